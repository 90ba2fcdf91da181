using Spectre.Console;

namespace NativeLayers.Cli;

/// <summary>One progress bar around a long job that reports (done, total) on the calling thread.</summary>
public static class ProgressBar
{
    public static T Run<T>(IAnsiConsole console, string label, Func<IProgress<(int Done, int Total)>, T> job)
    {
        T result = default!;
        console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(Markup.Escape(label));
                result = job(new SynchronousProgress<(int Done, int Total)>(p =>
                {
                    task.MaxValue = Math.Max(1, p.Total);
                    task.Value = p.Done;
                }));
                task.Value = task.MaxValue;
            });
        return result;
    }
}
