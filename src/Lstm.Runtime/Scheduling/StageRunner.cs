using System.Runtime.ExceptionServices;

namespace Lstm.Runtime.Scheduling;

/// <summary>
/// Runs stages side by side: <see cref="Run"/> calls a body for every stage index at once, stage 0
/// on the calling thread and each other stage on a long-lived thread of its own, and returns when
/// all are done. A stage that fails cancels the token the others were given, and the failure
/// rethrown is that of the lowest stage that failed with something other than a cancellation
/// (the others only stopped because of it). The wavefront over layers, the layer pipeline over
/// devices, the directions of a layer and data parallelism all run on it.
/// </summary>
internal sealed class StageRunner : IDisposable
{
    private readonly Thread[] _threads;
    private readonly SemaphoreSlim[] _start;
    private readonly Exception?[] _errors;
    private readonly CountdownEvent _done;
    private Action<int, CancellationToken>? _body;
    private CancellationTokenSource? _cancel;
    private volatile bool _stopping;

    /// <summary>Starts <paramref name="stages"/> - 1 threads (stage 0 runs on the caller's).</summary>
    /// <param name="stages">Stages, at least 1.</param>
    /// <param name="name">The threads' name, followed by the stage index.</param>
    /// <param name="setup">Runs once on each stage's thread before its first body (binding a device context there).</param>
    public StageRunner(int stages, string name, Action<int>? setup = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(stages, 1);
        _errors = new Exception?[stages];
        _start = new SemaphoreSlim[stages];
        _threads = new Thread[stages];
        _done = new CountdownEvent(Math.Max(1, stages - 1));
        for (int s = 1; s < stages; s++)
        {
            int stage = s;
            _start[s] = new SemaphoreSlim(0);
            _threads[s] = new Thread(() => Work(stage, setup)) { IsBackground = true, Name = $"{name} {s}" };
            _threads[s].Start();
        }
    }

    /// <summary>Stages this runner runs.</summary>
    public int Stages => _threads.Length;

    /// <summary>Runs <paramref name="stages"/> stages once on a runner of their own (see <see cref="Run"/>).</summary>
    /// <param name="stages">Stages.</param>
    /// <param name="name">The threads' name.</param>
    /// <param name="body">The work of stage s; the token is cancelled when another stage fails.</param>
    /// <param name="setup">Runs on each stage's thread, the caller's included, before its body.</param>
    public static void RunOnce(int stages, string name, Action<int, CancellationToken> body, Action<int>? setup = null)
    {
        if (stages == 1)
        {
            setup?.Invoke(0);
            body(0, CancellationToken.None);
            return;
        }

        using var runner = new StageRunner(stages, name, setup);
        setup?.Invoke(0);
        runner.Run(body);
    }

    /// <summary>
    /// Walks the steps of several stages alternately from the calling thread, one step of each in
    /// turn, until all are done: for stages whose steps only issue work to streams of their own.
    /// A failure ends the walk and is rethrown.
    /// </summary>
    /// <param name="stages">Stages.</param>
    /// <param name="steps">Stage s's steps as an iterator.</param>
    public static void Interleave(int stages, Func<int, IEnumerable<bool>> steps)
    {
        var walks = new IEnumerator<bool>?[stages];
        try
        {
            for (int s = 0; s < stages; s++)
                walks[s] = steps(s).GetEnumerator();
            int running = stages;
            var more = new bool[stages];
            Array.Fill(more, true);
            while (running > 0)
            {
                for (int s = 0; s < stages; s++)
                {
                    if (more[s] && !(more[s] = walks[s]!.MoveNext()))
                        running--;
                }
            }
        }
        finally
        {
            foreach (var walk in walks)
                walk?.Dispose();
        }
    }

    /// <summary>Runs <paramref name="body"/>(s, token) for every stage s concurrently and waits for all.</summary>
    /// <param name="body">The work of one stage; the token is cancelled when another stage fails.</param>
    public void Run(Action<int, CancellationToken> body)
    {
        ObjectDisposedException.ThrowIf(_stopping, this);
        Array.Clear(_errors);
        using var cancel = new CancellationTokenSource();
        _cancel = cancel;
        _body = body;
        int others = _threads.Length - 1;
        if (others > 0)
        {
            _done.Reset(others);
            for (int s = 1; s < _threads.Length; s++)
                _start[s].Release();
        }

        RunStage(0);
        if (others > 0)
            _done.Wait();
        _body = null;
        _cancel = null;
        var failure = Array.Find(_errors, e => e is not null and not OperationCanceledException) ?? Array.Find(_errors, e => e is not null);
        if (failure is not null)
            ExceptionDispatchInfo.Throw(failure);
    }

    private void RunStage(int stage)
    {
        var cancel = _cancel!;
        try
        {
            _body!(stage, cancel.Token);
        }
        catch (Exception e)
        {
            _errors[stage] = e;
            cancel.Cancel();
        }
    }

    private void Work(int stage, Action<int>? setup)
    {
        bool ready = setup is null;
        while (true)
        {
            _start[stage].Wait();
            if (_stopping)
                return;
            try
            {
                if (!ready)
                {
                    setup!(stage);
                    ready = true;
                }

                RunStage(stage);
            }
            catch (Exception e)
            {
                _errors[stage] = e;
                _cancel!.Cancel();
            }
            finally
            {
                _done.Signal();
            }
        }
    }

    /// <summary>Ends the threads.</summary>
    public void Dispose()
    {
        if (_stopping)
            return;
        _stopping = true;
        for (int s = 1; s < _threads.Length; s++)
            _start[s].Release();
        for (int s = 1; s < _threads.Length; s++)
        {
            _threads[s].Join();
            _start[s].Dispose();
        }

        _done.Dispose();
    }
}
