using NativeLayers.Loading.Hub;
using Spectre.Console;

namespace NativeLayers.Cli;

/// <summary>--model ORG/NAME[@REVISION]: the model's snapshot folder in the Hugging Face Hub cache, downloaded with a progress bar per file when the cache lacks it.</summary>
public static class HubModels
{
    public static string Snapshot(HubModelReference model, HubSettings settings, TextWriter progressWriter)
    {
        using var client = new HubClient(settings);
        if (client.FindInCache(model) is { } cached) return cached;
        string folder = "";
        var console = CliApp.Console(progressWriter);
        console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var tasks = new Dictionary<string, ProgressTask>();
                var progress = new SynchronousProgress<HubDownloadProgress>(p =>
                {
                    if (!tasks.TryGetValue(p.File, out var task))
                        tasks[p.File] = task = ctx.AddTask(Markup.Escape($"{model} {p.File}"), maxValue: Math.Max(p.TotalBytes, 1));
                    task.Value = p.TotalBytes == 0 ? 1 : p.BytesDone;
                });
                folder = client.GetSnapshotAsync(model, progress).GetAwaiter().GetResult();
            });
        progressWriter.WriteLine($"downloaded {model} from {settings.Endpoint} into {folder}");
        return folder;
    }
}
