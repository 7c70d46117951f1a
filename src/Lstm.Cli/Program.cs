using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using CommandLine;
using CommandLine.Text;
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

    /// <summary>The verbs' option types, in the order <c>lstm --help</c> lists them.</summary>
    internal static readonly Type[] VerbTypes =
    [
        typeof(DevicesOptions), typeof(RunOptions), typeof(TrainOptions), typeof(PlanOptions), typeof(EvalOptions), typeof(PredictOptions),
        typeof(TranslateOptions), typeof(GenerateOptions), typeof(CompareOptions), typeof(SelfTestOptions), typeof(BenchOptions),
    ];

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
    // CommandLineParser reads the verb types' attributes and sets their properties by reflection:
    // a trimmed build keeps every member of each (VerbTypes lists the same types).
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(DevicesOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(RunOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(TrainOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(DataOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(TrainHelp))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(PlanOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(EvalOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(PredictOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(TranslateOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(GenerateOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(CompareOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(SelfTestOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(BenchOptions))]
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancel)
    {
        ArgumentNullException.ThrowIfNull(args);
        using var parser = new Parser(s =>
        {
            s.HelpWriter = null; // Help and version go to stdout, errors to stderr (Report).
            s.CaseInsensitiveEnumValues = true;
            s.AutoVersion = true;
        });
        var parsed = parser.ParseArguments(args, VerbTypes);
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
                    TranslateOptions tr => TranslateCommand.Execute(tr, stdout),
                    GenerateOptions g => GenerateCommand.Execute(g, stdout),
                    CompareOptions c => CompareCommand.Execute(c, stdout),
                    SelfTestOptions s => SelfTestCommand.Execute(s, stdout),
                    BenchOptions b => BenchCommand.Execute(b, stdout),
                    _ => BadInput,
                },
                errors => Report(parsed, errors.ToList(), args, stdout, stderr));
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

    /// <summary>
    /// Help and <c>--version</c> on stdout (exit 0); otherwise each unknown option or verb first,
    /// with the nearest known name when one is close, then the help, on stderr (exit 2).
    /// </summary>
    private static int Report(ParserResult<object> parsed, IReadOnlyList<Error> errors, string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (errors.Any(e => e.Tag is ErrorType.VersionRequestedError))
        {
            var assembly = typeof(Program).Assembly;
            stdout.WriteLine($"lstm {assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? assembly.GetName().Version?.ToString()}");
            return Ok;
        }

        var help = HelpText.AutoBuild(parsed);
        if (errors.All(e => e.Tag is ErrorType.HelpRequestedError or ErrorType.HelpVerbRequestedError or ErrorType.VersionRequestedError))
        {
            stdout.WriteLine(help);
            return Ok;
        }

        // A value that does not parse as its option's type: one line naming the option, the value and
        // what it takes, without the whole help.
        if (errors.All(e => e is BadFormatConversionError))
        {
            foreach (var bad in errors.Cast<BadFormatConversionError>())
            {
                string name = bad.NameInfo.LongName;
                stderr.WriteLine($"error: --{name} {ValueOf(args, name) ?? ""}: {Expected(parsed.TypeInfo.Current, name)}; see 'lstm {VerbName(parsed.TypeInfo.Current)} --help'");
            }

            return BadInput;
        }

        foreach (var e in errors)
        {
            if (e is UnknownOptionError unknown)
            {
                string given = (unknown.Token.Length == 1 ? "-" : "--") + unknown.Token;
                stderr.WriteLine($"error: unknown option '{given}'{Suggest(unknown.Token, OptionNames(parsed.TypeInfo.Current), "--")}");
            }
            else if (e is BadVerbSelectedError verb)
            {
                stderr.WriteLine($"error: unknown verb '{verb.Token}'{Suggest(verb.Token, VerbTypes.Select(t => t.GetCustomAttribute<VerbAttribute>()!.Name), "")}");
            }
        }

        stderr.WriteLine(help);
        return BadInput;
    }

    /// <summary>The value given to <c>--name</c> (as the next argument or after '='), or null.</summary>
    private static string? ValueOf(string[] args, string name)
    {
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--" + name)
                return i + 1 < args.Length ? args[i + 1] : null;
            if (args[i].StartsWith("--" + name + "=", StringComparison.Ordinal))
                return args[i][(name.Length + 3)..];
        }

        return null;
    }

    /// <summary>What an option takes, from its property's type: "expected a whole number" and the like.</summary>
    private static string Expected(Type verb, string name)
    {
        var type = verb.GetProperties().FirstOrDefault(p => p.GetCustomAttribute<OptionAttribute>()?.LongName == name)?.PropertyType;
        type = type is null ? null : Nullable.GetUnderlyingType(type) ?? type;
        return type switch
        {
            _ when type == typeof(int) => $"expected a whole number from {int.MinValue} to {int.MaxValue} (no exponent)",
            _ when type == typeof(long) => "expected a whole number (no exponent)",
            _ when type == typeof(double) || type == typeof(float) => "expected a number",
            { IsEnum: true } => "expected one of " + string.Join(", ", Enum.GetNames(type).Select(n => n.ToLowerInvariant())),
            _ => "not a valid value for this option",
        };
    }

    /// <summary>A verb type's name on the command line.</summary>
    private static string VerbName(Type verb) => verb.GetCustomAttribute<VerbAttribute>()?.Name ?? "";

    /// <summary>The long option names of a verb's option type.</summary>
    private static IEnumerable<string> OptionNames(Type verb) =>
        verb.GetProperties().Select(p => p.GetCustomAttribute<OptionAttribute>()?.LongName).OfType<string>().Where(n => n.Length > 0);

    /// <summary>"; did you mean '--x'?" for the known name nearest to <paramref name="given"/> (edit distance at most 2, or a third of a longer name), else "".</summary>
    internal static string Suggest(string given, IEnumerable<string> known, string prefix)
    {
        int limit = given.Length <= 2 ? 1 : Math.Max(2, given.Length / 3);
        var best = known
            .Select(k => (Name: k, Distance: EditDistance(given.ToLowerInvariant(), k.ToLowerInvariant())))
            .Where(k => k.Distance <= limit)
            .OrderBy(k => k.Distance)
            .ThenBy(k => k.Name, StringComparer.Ordinal)
            .FirstOrDefault();
        return best.Name is null ? "" : $"; did you mean '{prefix}{best.Name}'?";
    }

    private static int EditDistance(string a, string b)
    {
        var row = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++)
            row[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            int diagonal = row[0];
            row[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int above = row[j];
                row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), diagonal + (a[i - 1] == b[j - 1] ? 0 : 1));
                diagonal = above;
            }
        }

        return row[b.Length];
    }
}
