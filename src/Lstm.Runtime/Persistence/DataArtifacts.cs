using Lstm.Runtime.Data;

namespace Lstm.Runtime.Persistence;

/// <summary>
/// The files a run keeps of its data: the CSV columns' normalization statistics or the text's
/// vocabulary, written beside the model so that evaluation and prediction need not read the
/// training data again.
/// </summary>
public static class DataArtifacts
{
    /// <summary>Writes the statistics or vocabulary into a folder, each file atomically; returns the paths written.</summary>
    /// <param name="data">The prepared data.</param>
    /// <param name="directory">The folder (it exists).</param>
    public static IReadOnlyList<string> Save(PreparedData data, string directory)
    {
        var written = new List<string>();
        void Save(string name, Action<string> write)
        {
            string path = System.IO.Path.Combine(directory, name);
            AtomicFile.Write(path, write);
            written.Add(path);
        }

        ArgumentNullException.ThrowIfNull(data);
        if (data.Vocabulary is { } v)
            Save(RunFiles.Vocabulary, v.Save);
        if (data.FeatureStats is { } f)
            Save(RunFiles.FeatureStats, f.Save);
        if (data.TargetStats is { } t)
            Save(RunFiles.TargetStats, t.Save);
        return written;
    }

    /// <summary>
    /// What a trained run needs of its data without reading it again: the statistics or
    /// vocabulary saved by <see cref="Save"/> in <paramref name="directory"/>, the spec
    /// from its config; the training and validation sets are empty.
    /// </summary>
    /// <param name="spec">The run's data spec.</param>
    /// <param name="directory">The folder holding the saved files.</param>
    public static PreparedData Load(DataSpec spec, string directory)
    {
        ArgumentNullException.ThrowIfNull(spec);
        string At(string name) => System.IO.Path.Combine(directory, name);
        CharVocabulary? vocabulary = null;
        ZScoreStatistics? fs = null, ts = null;
        int classes = 0;
        if (spec.Source == "text")
        {
            if (!File.Exists(At(RunFiles.Vocabulary)))
                throw new LstmException($"{directory}: no {RunFiles.Vocabulary} (the vocabulary of the text the run was trained on)");
            vocabulary = CharVocabulary.Load(At(RunFiles.Vocabulary));
            classes = vocabulary.Size;
        }
        else if (spec.Source == "task" && spec.Task == "copy")
        {
            classes = CopyTask.Classes;
        }
        else if (spec.Source == "csv" && spec.Normalize != "none")
        {
            foreach (var name in new[] { RunFiles.FeatureStats, RunFiles.TargetStats })
            {
                if (!File.Exists(At(name)))
                    throw new LstmException($"{directory}: no {name} (the normalization of the run's CSV columns)");
            }

            fs = ZScoreStatistics.Load(At(RunFiles.FeatureStats));
            ts = ZScoreStatistics.Load(At(RunFiles.TargetStats));
            if (!fs.Columns.SequenceEqual(spec.FeatureColumns) || !ts.Columns.SequenceEqual(spec.Targets))
                throw new LstmException($"{directory}: the saved statistics are for columns {string.Join(",", fs.Columns)} → {string.Join(",", ts.Columns)}, but the run's config names {string.Join(",", spec.FeatureColumns)} → {string.Join(",", spec.Targets)}");
        }

        var empty = new DatasetSlice(EmptyDataset.Instance, 0, 0);
        return new PreparedData(spec, empty, empty, classes, fs, ts, vocabulary, spec.Name);
    }
}
