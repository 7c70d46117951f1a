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

    /// <summary>Runs a verb and returns its exit code; Ctrl+C stops training after writing its <c>last/</c> checkpoint.</summary>
    /// <param name="args">Command-line arguments.</param>
    public static int Main(string[] args)
    {
        using var interrupt = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            if (interrupt.IsCancellationRequested)
                return; // A second Ctrl+C ends the process at once.
            e.Cancel = true;
            interrupt.Cancel();
        };
        return Run(args, Console.Out, Console.Error, interrupt.Token);
    }

    /// <summary>Runs a verb with the given output streams (tests call this).</summary>
    /// <param name="args">Command-line arguments.</param>
    /// <param name="stdout">Where results go.</param>
    /// <param name="stderr">Where errors go.</param>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr) => Run(args, stdout, stderr, CancellationToken.None);

    /// <summary>Runs a verb with the given output streams; <paramref name="cancel"/> stops training early.</summary>
    /// <param name="args">Command-line arguments.</param>
    /// <param name="stdout">Where results go.</param>
    /// <param name="stderr">Where errors go.</param>
    /// <param name="cancel">Stops a training run after its next step (it writes <c>last/</c> first).</param>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancel)
    {
        ArgumentNullException.ThrowIfNull(args);
        using var parser = new Parser(s =>
        {
            s.HelpWriter = stderr;
            s.CaseInsensitiveEnumValues = true;
            s.AutoVersion = true;
        });
        var parsed = parser.ParseArguments(args, typeof(DevicesOptions), typeof(RunOptions), typeof(TrainOptions), typeof(PlanOptions), typeof(EvalOptions), typeof(PredictOptions),
            typeof(GenerateOptions), typeof(CompareOptions), typeof(SelfTestOptions), typeof(BenchOptions));
        try
        {
            return parsed.MapResult(
                o => o switch
                {
                    DevicesOptions d => DevicesCommand.Execute(d, stdout),
                    RunOptions r => RunCommand.Execute(r, stdout),
                    PlanOptions plan => TrainCommand.PrintPlan(plan, stdout),
                    TrainOptions t => TrainCommand.Execute(t, args, stdout, cancel),
                    EvalOptions e => EvalCommand.Execute(e, stdout),
                    PredictOptions p => PredictCommand.Execute(p, stdout),
                    GenerateOptions g => GenerateCommand.Execute(g, stdout),
                    CompareOptions c => CompareCommand.Execute(c, stdout),
                    SelfTestOptions s => SelfTestCommand.Execute(s, stdout),
                    BenchOptions b => BenchCommand.Execute(b, stdout),
                    _ => BadInput,
                },
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
