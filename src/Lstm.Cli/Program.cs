using CommandLine;
using Lstm.Runtime;

namespace Lstm.Cli;

/// <summary>The <c>lstm</c> command: thin verbs over Lstm.Runtime.</summary>
public static class Program
{
    /// <summary>Exit code for success.</summary>
    public const int Ok = 0;

    /// <summary>Exit code when a check fails (selftest).</summary>
    public const int CheckFailed = 1;

    /// <summary>Exit code for bad input: a file, shape, device or option.</summary>
    public const int BadInput = 2;

    /// <summary>Runs a verb and returns its exit code.</summary>
    /// <param name="args">Command-line arguments.</param>
    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary>Runs a verb with the given output streams (tests call this).</summary>
    /// <param name="args">Command-line arguments.</param>
    /// <param name="stdout">Where results go.</param>
    /// <param name="stderr">Where errors go.</param>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        using var parser = new Parser(s =>
        {
            s.HelpWriter = stderr;
            s.CaseInsensitiveEnumValues = true;
            s.AutoVersion = true;
        });
        var parsed = parser.ParseArguments<DevicesOptions, RunOptions, TrainOptions, SelfTestOptions, BenchOptions>(args);
        try
        {
            return parsed.MapResult(
                (DevicesOptions o) => DevicesCommand.Execute(o, stdout),
                (RunOptions o) => RunCommand.Execute(o, stdout),
                (TrainOptions o) => TrainCommand.Execute(o, stdout),
                (SelfTestOptions o) => SelfTestCommand.Execute(o, stdout),
                (BenchOptions o) => BenchCommand.Execute(o, stdout),
                errors => errors.All(e => e.Tag is ErrorType.HelpRequestedError or ErrorType.HelpVerbRequestedError or ErrorType.VersionRequestedError) ? Ok : BadInput);
        }
        catch (LstmException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return BadInput;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"error: {e.Message}");
            return BadInput;
        }
    }
}
