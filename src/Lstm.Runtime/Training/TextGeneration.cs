using System.Globalization;
using System.Text;

namespace Lstm.Runtime.Training;

/// <summary>
/// The settings of text generation with a run trained on a text file (<c>lstm generate</c>); the
/// constants are the defaults, <see cref="Validate"/> holds the rules.
/// </summary>
public sealed record GenerationSettings
{
    /// <summary>The default number of characters to generate.</summary>
    public const int DefaultLength = 200;

    /// <summary>The default sampling temperature.</summary>
    public const double DefaultTemperature = 0.8;

    /// <summary>The default seed of the sampling.</summary>
    public const int DefaultSeed = 1;

    /// <summary>The run folder.</summary>
    public string Run { get; init; } = "";

    /// <summary>The text to start from; null: the training text's newline if it has one, else its first character (and nothing is echoed).</summary>
    public string? Prompt { get; init; }

    /// <summary>Characters to generate after the prompt.</summary>
    public int Length { get; init; } = DefaultLength;

    /// <summary>0 always takes the likeliest character; higher is more varied.</summary>
    public double Temperature { get; init; } = DefaultTemperature;

    /// <summary>Seed of the sampling.</summary>
    public int Seed { get; init; } = DefaultSeed;

    /// <summary>The device's name.</summary>
    public string Device { get; init; } = Devices.ComputeDevice.Auto;

    /// <summary>Checks the length, the temperature and the prompt (not the run).</summary>
    /// <exception cref="LstmException">A bad value; the message names its option.</exception>
    public void Validate()
    {
        if (Length < 0)
            throw new LstmException($"--length {Length}: must be ≥ 0");
        if (!(Temperature >= 0) || double.IsInfinity(Temperature))
            throw new LstmException($"--temperature {Temperature.ToString(CultureInfo.InvariantCulture)}: must be a finite number ≥ 0");
        if (Prompt is { Length: 0 })
            throw new LstmException("--prompt: empty; give at least one character, or leave --prompt out");
    }
}

/// <summary>Text sampled one character at a time from a run trained on a text file.</summary>
public static class TextGeneration
{
    /// <summary>Checks the settings, opens the run (it must be trained on text) and generates.</summary>
    /// <param name="settings">The settings.</param>
    /// <returns>The given prompt (empty when none was given) and the generated text after it.</returns>
    /// <exception cref="LstmException">A bad setting, a run not trained on text, a prompt with characters the training text lacks.</exception>
    public static (string Prompt, string Text) Generate(GenerationSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        using var run = TrainedRun.Open(settings.Run, settings.Device, config =>
        {
            if (config.Data.Source != "text")
                throw new LstmException($"--run {settings.Run}: generate needs a run trained on --text, but this one was trained on {(config.Data.Source == "task" ? $"the {config.Data.Task} task" : $"the CSV {config.Data.Path}")}");
        });
        var vocabulary = run.Data.Vocabulary!;
        string prompt = settings.Prompt ?? (vocabulary.Contains(new Rune('\n')) ? "\n" : vocabulary.Chars[0].ToString());
        int[] ids;
        try
        {
            ids = vocabulary.Encode(prompt);
        }
        catch (LstmException e)
        {
            throw new LstmException($"--prompt: {e.Message} of the training text ({run.Config.Data.Path})", e);
        }

        var generated = run.Model.Generate(ids, settings.Length, settings.Temperature, settings.Seed);
        return (settings.Prompt ?? "", vocabulary.Decode(generated));
    }
}
