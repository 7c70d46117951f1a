using Lstm.Runtime;
using Lstm.Runtime.Training;

namespace Lstm.Cli;

/// <summary><c>lstm generate</c>: the options as <see cref="GenerationSettings"/>, the text of <see cref="TextGeneration"/> printed after the prompt.</summary>
internal static class GenerateCommand
{
    public static int Execute(GenerateOptions o, TextWriter stdout)
    {
        if (Seq2SeqRun.IsSeq2SeqRun(o.Run))
            throw new LstmException($"--run {o.Run}: an encoder-decoder run generates no free text; translate with lstm translate --run {o.Run} --input TEXT");
        if (ClassificationRun.IsClassificationRun(o.Run))
            throw new LstmException($"--run {o.Run}: a sequence classifier or labeller generates no text; label a file with lstm predict --run {o.Run} --csv FILE");
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
