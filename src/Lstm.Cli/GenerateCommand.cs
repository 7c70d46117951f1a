using System.Globalization;
using Lstm.Runtime;

namespace Lstm.Cli;

/// <summary><c>lstm generate</c>: text from a run trained on a text file, sampled one character at a time after a prompt.</summary>
internal static class GenerateCommand
{
    public static int Execute(GenerateOptions o, TextWriter stdout)
    {
        if (o.Length < 0)
            throw new LstmException($"--length {o.Length}: must be ≥ 0");
        if (!(o.Temperature >= 0) || double.IsInfinity(o.Temperature))
            throw new LstmException($"--temperature {o.Temperature.ToString(CultureInfo.InvariantCulture)}: must be a finite number ≥ 0");
        if (o.Prompt is { Length: 0 })
            throw new LstmException("--prompt: empty; give at least one character, or leave --prompt out");
        using var run = TrainedRun.Open(o.Run, o.Device, config =>
        {
            if (config.Data.Source != "text")
                throw new LstmException($"--run {o.Run}: generate needs a run trained on --text, but this one was trained on {(config.Data.Source == "task" ? $"the {config.Data.Task} task" : $"the CSV {config.Data.Path}")}");
        });
        var vocabulary = run.Data.Vocabulary!;
        string prompt = o.Prompt ?? (vocabulary.Chars.Contains('\n') ? "\n" : vocabulary.Chars[0].ToString());
        int[] ids;
        try
        {
            ids = vocabulary.Encode(prompt);
        }
        catch (LstmException e)
        {
            throw new LstmException($"--prompt: {e.Message} of the training text ({run.Config.Data.Path})", e);
        }

        var generated = run.Model.Generate(ids, o.Length, o.Temperature, o.Seed);
        stdout.Write(o.Prompt ?? "");
        stdout.WriteLine(vocabulary.Decode(generated));
        return Program.Ok;
    }
}
