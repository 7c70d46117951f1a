using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Lstm.Cli.Tests;

/// <summary>
/// <c>lstm</c> as a child process (the <c>lstm.dll</c> beside the tests, under the dotnet host
/// running them), for what an in-process run cannot show: a kill -9, two processes at once.
/// </summary>
internal sealed partial class LstmProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _out = new();
    private readonly StringBuilder _err = new();
    private long _lastStep;

    private LstmProcess(string workingDirectory, IEnumerable<string> args)
    {
        var start = new ProcessStartInfo(Host)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "lstm.dll"));
        foreach (string a in args)
            start.ArgumentList.Add(a);
        _process = new Process { StartInfo = start };
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            lock (_out)
                _out.AppendLine(e.Data);
            if (StepLine().Match(e.Data) is { Success: true } m)
                Interlocked.Exchange(ref _lastStep, long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
        };
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            lock (_err)
                _err.AppendLine(e.Data);
        };
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>The dotnet host: the one running the tests when it is dotnet, else the one on the path.</summary>
    private static string Host =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host
        : Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self
        : "dotnet";

    /// <summary>The last step a progress line (<c>--log-every 1</c>) reported.</summary>
    public long LastStep => Interlocked.Read(ref _lastStep);

    /// <summary>Standard output so far.</summary>
    public string Out
    {
        get
        {
            lock (_out)
                return _out.ToString();
        }
    }

    /// <summary>Standard error so far.</summary>
    public string Err
    {
        get
        {
            lock (_err)
                return _err.ToString();
        }
    }

    public bool HasExited => _process.HasExited;

    public static LstmProcess Start(string workingDirectory, params string[] args) => new(workingDirectory, args);

    /// <summary>Waits until a progress line reports step <paramref name="step"/> or later; false if the process ended first or time ran out.</summary>
    public bool WaitForStep(long step, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (LastStep < step)
        {
            if (_process.HasExited || clock.Elapsed > timeout)
                return false;
            Thread.Sleep(1);
        }

        return true;
    }

    /// <summary>SIGKILL: the process ends at once, without running any of its own code.</summary>
    public void Kill()
    {
        try
        {
            _process.Kill();
        }
        catch (InvalidOperationException)
        {
            // It ended by itself first.
        }

        _process.WaitForExit();
    }

    /// <summary>Waits for the end (failing the test if it takes too long) and returns the exit code.</summary>
    public int WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            Kill();
            Assert.Fail($"lstm did not end within {timeout}: {Out}\n{Err}");
        }

        _process.WaitForExit(); // Drains the output.
        return _process.ExitCode;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
            Kill();
        _process.Dispose();
    }

    [GeneratedRegex(@"^step\s+(\d+)/")]
    private static partial Regex StepLine();
}
