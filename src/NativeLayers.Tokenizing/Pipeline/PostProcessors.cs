namespace NativeLayers.Tokenizing.Pipeline;

/// <summary>A tokenizer.json post-processor: adds special tokens around one encoded sequence.</summary>
internal interface IPostProcessor
{
    List<int> Process(List<int> ids);

    /// <summary>The tokens put before and after the sequence (for BOS/EOS discovery).</summary>
    (IReadOnlyList<int> Before, IReadOnlyList<int> After) Around { get; }
}

/// <summary>TemplateProcessing's "single" template, e.g. [CLS] $A [SEP] or $A &lt;/s&gt;.</summary>
internal sealed class TemplatePostProcessor(IReadOnlyList<int> before, IReadOnlyList<int> after) : IPostProcessor
{
    public (IReadOnlyList<int> Before, IReadOnlyList<int> After) Around => (before, after);

    public List<int> Process(List<int> ids)
    {
        var result = new List<int>(before.Count + ids.Count + after.Count);
        result.AddRange(before);
        result.AddRange(ids);
        result.AddRange(after);
        return result;
    }
}

/// <summary>A post-processor that only adjusts offsets (ByteLevel), so ids pass through.</summary>
internal sealed class PassThroughPostProcessor : IPostProcessor
{
    public (IReadOnlyList<int> Before, IReadOnlyList<int> After) Around => ([], []);

    public List<int> Process(List<int> ids) => ids;
}

internal sealed class SequencePostProcessor(IReadOnlyList<IPostProcessor> steps) : IPostProcessor
{
    public (IReadOnlyList<int> Before, IReadOnlyList<int> After) Around
    {
        get
        {
            var before = new List<int>();
            var after = new List<int>();
            foreach (var step in steps)
            {
                var (b, a) = step.Around;
                before.InsertRange(0, b);
                after.AddRange(a);
            }
            return (before, after);
        }
    }

    public List<int> Process(List<int> ids)
    {
        foreach (var step in steps)
            ids = step.Process(ids);
        return ids;
    }
}
