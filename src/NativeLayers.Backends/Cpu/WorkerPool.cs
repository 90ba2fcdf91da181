namespace NativeLayers.Backends.Cpu;

/// <summary>
/// A small fork-join pool for the forward pass. Workers spin briefly between jobs (a decode step issues about a
/// hundred short parallel regions; waking a blocked thread for each would cost more than the work), then sleep.
/// The calling thread always takes part, so a pool of 1 thread runs everything inline.
/// </summary>
public sealed class WorkerPool : IDisposable
{
    private sealed class Job(int parts, Action<int> body)
    {
        public readonly int Parts = parts;
        public readonly Action<int> Body = body;
        public int Next;
        public int Done;
        public Exception? Error;

        public void Work()
        {
            int part;
            while ((part = Interlocked.Increment(ref Next) - 1) < Parts)
            {
                try { Body(part); }
                catch (Exception e) { Error ??= e; }
                Interlocked.Increment(ref Done);
            }
        }
    }

    private const int SpinIterations = 20_000;
    private readonly Thread[] _workers;
    private readonly object _sleepLock = new();
    private Job? _current;
    private int _sleepers;
    private int _busy;
    private volatile bool _disposed;
    [ThreadStatic] private static bool t_insideJob;

    public int Threads { get; }

    public WorkerPool(int threads)
    {
        Threads = Math.Max(1, threads);
        _workers = new Thread[Threads - 1];
        for (int i = 0; i < _workers.Length; i++)
        {
            _workers[i] = new Thread(WorkerLoop) { IsBackground = true, Name = $"nl-worker-{i + 1}" };
            _workers[i].Start();
        }
    }

    private static WorkerPool? s_default;
    /// <summary>One pool for the process, one thread per core.</summary>
    public static WorkerPool Default => LazyInitializer.EnsureInitialized(ref s_default, () => new WorkerPool(Environment.ProcessorCount));

    /// <summary>Runs body(0..parts-1), parts handed out dynamically; returns when all are done.</summary>
    public void For(int parts, Action<int> body)
    {
        if (parts <= 0) return;
        // One job at a time: a second caller (another model on another thread) runs its parts itself.
        if (parts == 1 || _workers.Length == 0 || t_insideJob || Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            for (int i = 0; i < parts; i++) body(i);
            return;
        }
        try { RunJob(parts, body); }
        finally { Volatile.Write(ref _busy, 0); }
    }

    private void RunJob(int parts, Action<int> body)
    {
        var job = new Job(parts, body);
        Interlocked.Exchange(ref _current, job); // full fence: publish before reading _sleepers
        if (Volatile.Read(ref _sleepers) > 0)
            lock (_sleepLock) Monitor.PulseAll(_sleepLock);
        t_insideJob = true;
        try { job.Work(); }
        finally { t_insideJob = false; }
        var spinner = new SpinWait();
        while (Volatile.Read(ref job.Done) < parts) spinner.SpinOnce(sleep1Threshold: -1);
        if (job.Error != null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(job.Error).Throw();
    }

    private void WorkerLoop()
    {
        t_insideJob = true;
        Job? seen = null;
        int idle = 0;
        while (!_disposed)
        {
            var job = Volatile.Read(ref _current);
            if (job != null && job != seen)
            {
                seen = job;
                job.Work();
                idle = 0;
                continue;
            }
            if (++idle < SpinIterations)
            {
                Thread.SpinWait(8);
                continue;
            }
            lock (_sleepLock)
            {
                Interlocked.Increment(ref _sleepers);
                while (Volatile.Read(ref _current) == seen && !_disposed) Monitor.Wait(_sleepLock);
                Interlocked.Decrement(ref _sleepers);
            }
            idle = 0;
        }
    }

    public void Dispose()
    {
        _disposed = true;
        lock (_sleepLock) Monitor.PulseAll(_sleepLock);
    }
}
