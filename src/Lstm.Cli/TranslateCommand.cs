using CommandLine;
using Lstm.Runtime;
using Lstm.Runtime.Data;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Training;

namespace Lstm.Cli;

/// <summary><c>lstm translate</c>.</summary>
[Verb("translate", HelpText = "Translate with an encoder-decoder run (trained with --pairs or --task reverse|dates): greedy, or beam search with --beam K.")]
public sealed class TranslateOptions
{
    /// <summary>The run.</summary>
    [Option("run", Required = true, HelpText = "The run folder (its model/, else best/, else last/).")]
    public string Run { get; set; } = "";

    /// <summary>One source.</summary>
    [Option("input", HelpText = "The source text to translate.")]
    public string? Input { get; set; }

    /// <summary>A file of sources.</summary>
    [Option("file", HelpText = "A UTF-8 file of sources, one a line (blank lines skipped): one output line each.")]
    public string? File { get; set; }

    /// <summary>Beams.</summary>
    [Option("beam", Default = 1, HelpText = "Beam search with this many beams (1, the default: greedy).")]
    public int Beam { get; set; } = 1;

    /// <summary>Output length limit.</summary>
    [Option("max-length", HelpText = "The most tokens an output may have. Default twice the longest training target + 10.")]
    public int? MaxLength { get; set; }

    /// <summary>The device.</summary>
    [Option("device", Default = ComputeDevice.Auto, HelpText = "auto, cuda[:N], opencl[:N], cpu or ilgpu-cpu.")]
    public string Device { get; set; } = ComputeDevice.Auto;
}

/// <summary><c>lstm translate</c>: the sources of <c>--input</c> or <c>--file</c> through <see cref="Seq2SeqEvaluation.Translate"/>, one output a line.</summary>
internal static class TranslateCommand
{
    public static int Execute(TranslateOptions o, TextWriter stdout)
    {
        if ((o.Input is null) == (o.File is null))
            throw new LstmException("give --input TEXT or --file FILE (one source a line)");
        if (o.Input is { } input && string.IsNullOrWhiteSpace(input))
            throw new LstmException("--input: the source is empty");
        var sources = o.File is { } file ? SentencePairs.ReadSources(file) : [new TextPair(o.Input!, null, 0)];
        var outputs = Seq2SeqEvaluation.Translate(
            new Seq2SeqEvaluationSettings { Run = o.Run, Device = o.Device, Beam = o.Beam, MaxLength = o.MaxLength }, sources, o.File ?? "--input");
        foreach (string line in outputs)
            stdout.WriteLine(line);
        return Program.Ok;
    }
}
