using Lstm.Runtime.Data;

namespace Lstm.Runtime.Tests;

/// <summary>
/// A labeller's data: rows of one id read with a label per row or a CTC target (on the first row,
/// or the same on every row), encoded through the vocabulary or the feature statistics, the
/// trainer's target layout, and the synthetic tasks' definitions.
/// </summary>
public class LabelledDataTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lstm-labelled-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void TokenRows_WithALabelPerRow_EncodeThroughTheVocabulary()
    {
        string path = Write("t.csv", "id,word,tag\na,the,D\na,dog,N\na,runs,V\nb,a,D\nb,cat,N\n");
        var raw = LabeledCsv.ReadRowSequences(path, "id", null, "word", "tag", RowLabels.EveryRow);
        Assert.Equal(2, raw.Count);
        Assert.Equal(["the", "dog", "runs"], raw[0].Tokens);
        Assert.Equal(["D", "N", "V"], raw[0].StepLabels);
        Assert.Equal([2, 3, 4], raw[0].Lines);
        var d = ClassifierData.FitSteps(raw[..1], raw, "id", null, "word", "tag", ctc: false, vocabSize: 100);
        Assert.Equal(["D", "N", "V"], d.Classes);
        Assert.Equal("tokens", d.Source);
        var set = d.EncodeSteps(raw, path);
        Assert.True(set.PerStep);
        Assert.Equal(3, set.TargetLength);
        var x = new double[3];
        var y = new double[3];
        set.Fill(1, x, y);
        Assert.Equal([0, 0, 0], x);  // "a" and "cat" are not in the training vocabulary: <unk>
        Assert.Equal([0, 1, 0], y);
        set.Fill(0, x, y);
        Assert.Equal([0, 1, 2], y);
        Assert.All(x, v => Assert.True(v > 0));
        var reread = ClassifierData.Load(Write("classifier.json", d.ToJson()));
        Assert.Equal(d.Vocabulary, reread.Vocabulary);
        Assert.Equal("step", reread.Targets);
    }

    [Fact]
    public void CtcTargets_OnTheFirstRowOrEveryRow_AndTheTargetLayout()
    {
        string path = Write("c.csv", "u,f,text\nu1,1,h i\nu1,2,\nu1,3,h i\nu2,4,i i\nu2,5,\nu2,6,\n");
        var raw = LabeledCsv.ReadRowSequences(path, "u", ["f"], null, "text", RowLabels.Target);
        Assert.Equal(["h i", "i i"], raw.Select(r => r.Label));
        var d = ClassifierData.FitSteps(raw, raw, "u", ["f"], null, "text", ctc: true, vocabSize: 10);
        Assert.Equal([ClassifierData.Blank, "h", "i"], d.Classes);
        var set = d.EncodeSteps(raw, path);
        Assert.False(set.PerStep);
        Assert.Equal(3, set.TargetLength);
        var x = new double[3];
        var y = new double[3];
        set.Fill(1, x, y);
        Assert.Equal([2, 2, 2], y);
        double sigma = Math.Sqrt(17.5 / 6);  // the six rows 1 to 6: mean 3.5
        Assert.Equal([0.5 / sigma, 1.5 / sigma, 2.5 / sigma], x.Select(v => Math.Round(v, 12)).ToArray(), (a, b) => Math.Abs(a - b) < 1e-11);
        Assert.Equal(2, LabelledSteps.CtcSteps([1, 2]));
        Assert.Equal(6, LabelledSteps.CtcSteps([1, 1, 1, 2]));  // a blank between each pair of equal neighbours
    }

    [Fact]
    public void BadRows_NameTheFileAndLine()
    {
        string differs = Write("d.csv", "u,f,text\nu1,1,a\nu1,2,b\n");
        Assert.Equal($"{differs}:3: sequence 'u1' has target 'b' here but 'a' on line 2 (one target per sequence: give it on the first row, the others the same or empty)",
            Assert.Throws<LstmException>(() => LabeledCsv.ReadRowSequences(differs, "u", ["f"], null, "text", RowLabels.Target)).Message);
        string late = Write("l.csv", "u,f,text\nu1,1,\nu1,2,a\n");
        Assert.Equal($"{late}:2: column 'text' is empty (every sequence needs a target on its first row)",
            Assert.Throws<LstmException>(() => LabeledCsv.ReadRowSequences(late, "u", ["f"], null, "text", RowLabels.Target)).Message);
        string noLabel = Write("n.csv", "id,word,tag\na,the,D\na,dog,\n");
        Assert.Equal($"{noLabel}:3: column 'tag' is empty (every row needs a label)",
            Assert.Throws<LstmException>(() => LabeledCsv.ReadRowSequences(noLabel, "id", null, "word", "tag", RowLabels.EveryRow)).Message);
        string blank = Write("b.csv", "u,f,text\nu1,1,<blank> a\nu1,2,\nu1,3,\n");
        var raw = LabeledCsv.ReadRowSequences(blank, "u", ["f"], null, "text", RowLabels.Target);
        Assert.Equal("column 'text': '<blank>' is CTC's blank, not a label",
            Assert.Throws<LstmException>(() => ClassifierData.FitSteps(raw, raw, "u", ["f"], null, "text", ctc: true, vocabSize: 10)).Message);
    }

    [Fact]
    public void Tasks_FollowTheirDefinitions()
    {
        var label = LabelTask.Create(50, seed: 3);
        var x = new double[label.Steps];
        var y = new double[label.TargetLength];
        for (int i = 0; i < label.Count; i++)
        {
            label.Fill(i, x, y);
            int sum = 0;
            for (int t = 0; t < label.LengthOf(i); t++)
            {
                sum = (sum + (int)x[t]) % LabelTask.Classes;
                Assert.Equal(sum, y[t]);
            }
        }

        var ctc = CtcTask.Create(50, seed: 3);
        Assert.Equal(CtcTask.Labels + 1, ctc.Classes.Count);
        for (int i = 0; i < ctc.Count; i++)
        {
            var t = ctc.Targets[i];
            Assert.InRange(t.Length, 2, CtcTask.MaxLabels);
            Assert.InRange(ctc.LengthOf(i), 2 * t.Length, 4 * t.Length + 2 * (t.Length + 1));
        }

        Assert.Equal(CtcTask.Create(5, seed: 9).Targets, CtcTask.Create(5, seed: 9).Targets);
    }
}
