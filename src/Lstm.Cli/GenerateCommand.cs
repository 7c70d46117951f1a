using Lstm.Runtime.Training;

namespace Lstm.Cli;

/// <summary><c>lstm generate</c>: the options as <see cref="GenerationSettings"/>, the text of <see cref="TextGeneration"/> printed after the prompt.</summary>
internal static class GenerateCommand
{
    public static int Execute(GenerateOptions o, TextWriter stdout)
    {
        var (prompt, text) = TextGeneration.Generate(new GenerationSettings
        {
            Run = o.Run,
            Prompt = o.Prompt,
            Length = o.Length,
            Temperature = o.Temperature,
            Seed = o.Seed,
            Device = o.Device,
        });
        stdout.Write(prompt);
        stdout.WriteLine(text);
        return Program.Ok;
    }
}
