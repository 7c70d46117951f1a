using System.Text.Json;

namespace Lstm.Cli.Tests;

/// <summary>Runs <c>lstm</c> in-process in a temporary folder of its own, deleted afterwards.</summary>
public abstract class CliRunner : IDisposable
{
    /// <summary>The data files the tests train on.</summary>
    protected static readonly string DataDirectory = Path.Combine(AppContext.BaseDirectory, "data", "cli");

    protected CliRunner() => Dir = Directory.CreateTempSubdirectory("lstm-cli-").FullName;

    /// <summary>The test's folder.</summary>
    protected string Dir { get; }

    protected static string Data(string name) => Path.Combine(DataDirectory, name);

    protected string At(params string[] parts) => Path.Combine([Dir, .. parts]);

    protected static (int Code, string Out, string Err) Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        int code = Program.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Runs a command that must succeed and returns its output.</summary>
    protected static string Ok(params string[] args)
    {
        var (code, stdout, stderr) = Run(args);
        Assert.True(code == Program.Ok, $"exit {code}: {stderr}\n{stdout}");
        return stdout;
    }

    /// <summary>
    /// <c>lstm train</c> with <paramref name="option"/> set to <paramref name="value"/> in
    /// <paramref name="args"/> (or added) must exit 2 with one line holding <paramref name="message"/>
    /// and leave no run folder at <paramref name="run"/>.
    /// </summary>
    protected static void AssertTrainRefused(List<string> args, string run, string what, string option, string value, string message)
    {
        int k = args.IndexOf(option);
        if (k >= 0)
            args[k + 1] = value;
        else
            args.AddRange([option, value]);
        var (code, _, err) = Run([.. args]);
        Assert.True(code == Program.BadInput, $"{what}: exit {code}");
        Assert.Contains(message, err);
        Assert.Single(err.Trim().Split('\n'));
        Assert.False(Directory.Exists(run), $"{what}: the run folder was left behind");
    }

    /// <summary>The records of a run's metrics.jsonl.</summary>
    protected static List<JsonElement> Metrics(string run) =>
        File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();

    public void Dispose()
    {
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a leftover temporary folder is harmless.
        }

        GC.SuppressFinalize(this);
    }
}
