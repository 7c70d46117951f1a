using System.Runtime.ExceptionServices;

namespace Lstm.Runtime.Scheduling;

/// <summary>
/// A thread per replica: <see cref="Run"/> runs a body for every replica index at once, replica 0
/// on the calling thread and each other replica on its own long-lived thread, and returns when
/// all are done, rethrowing the error of the lowest replica that failed.
/// </summary>
internal sealed class ReplicaThreads : IDisposable
{
    private readonly Thread[] _threads;
    private readonly SemaphoreSlim[] _start;
    private readonly Exception?[] _errors;
    private readonly CountdownEvent _done;
    private Action<int>? _body;
    private volatile bool _stopping;

    /// <summary>Starts <paramref name="count"/> - 1 threads (replica 0 runs on the caller's).</summary>
    /// <param name="count">Replicas.</param>
    public ReplicaThreads(int count)
    {
        _errors = new Exception?[count];
        _start = new SemaphoreSlim[count];
        _threads = new Thread[count];
        _done = new CountdownEvent(Math.Max(1, count - 1));
        for (int r = 1; r < count; r++)
        {
            int replica = r;
            _start[r] = new SemaphoreSlim(0);
            _threads[r] = new Thread(() => Work(replica)) { IsBackground = true, Name = $"lstm replica {r}" };
            _threads[r].Start();
        }
    }

    /// <summary>Runs <paramref name="body"/>(r) for every replica r concurrently and waits for all.</summary>
    /// <param name="body">The work of one replica.</param>
    public void Run(Action<int> body)
    {
        ObjectDisposedException.ThrowIf(_stopping, this);
        Array.Clear(_errors);
        _body = body;
        int others = _threads.Length - 1;
        if (others > 0)
        {
            _done.Reset(others);
            for (int r = 1; r < _threads.Length; r++)
                _start[r].Release();
        }

        try
        {
            body(0);
        }
        catch (Exception e)
        {
            _errors[0] = e;
        }

        if (others > 0)
            _done.Wait();
        _body = null;
        foreach (var e in _errors)
        {
            if (e is not null)
                ExceptionDispatchInfo.Throw(e);
        }
    }

    private void Work(int replica)
    {
        while (true)
        {
            _start[replica].Wait();
            if (_stopping)
                return;
            try
            {
                _body!(replica);
            }
            catch (Exception e)
            {
                _errors[replica] = e;
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
        for (int r = 1; r < _threads.Length; r++)
            _start[r].Release();
        for (int r = 1; r < _threads.Length; r++)
        {
            _threads[r].Join();
            _start[r].Dispose();
        }

        _done.Dispose();
    }
}
