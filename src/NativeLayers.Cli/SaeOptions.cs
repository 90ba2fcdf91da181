using System.CommandLine;
using System.Globalization;
using NativeLayers.Analysis.Saes;
using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Cli;

/// <summary>
/// The SAE options of `nl generate` and `nl hidden`: --sae DIR[@HOOK] splices the SAE's reconstruction into its hook
/// point at every position (--sae-keep-error keeps the error term, so only the edits change the run), --sae-clamp F=V
/// holds feature F at V (0 ablates it), --sae-steer F*C adds C × the feature's decoder direction.
/// </summary>
public sealed class SaeOptions
{
    public Option<string?> Sae { get; } = new("--sae")
    {
        Description = "Splice a sparse autoencoder into its hook point (SAELens or sparsify folder, Gemma Scope params.npz; @HOOK names or overrides the point).",
        HelpName = "DIR[@HOOK]",
    };
    public Option<bool> KeepError { get; } = new("--sae-keep-error") { Description = "Keep the SAE's error term: x + decode(edited) − decode(x's features), so without edits the run is unchanged." };
    public Option<string[]> Clamp { get; } = new("--sae-clamp")
    {
        Description = "Hold feature F at value V wherever the SAE runs (F=0 ablates it); repeatable.",
        HelpName = "F=V",
        Arity = ArgumentArity.ZeroOrMore,
    };
    public Option<string[]> Steer { get; } = new("--sae-steer")
    {
        Description = "Add C × feature F's decoder direction at the SAE's hook point at every position; repeatable.",
        HelpName = "F*C",
        Arity = ArgumentArity.ZeroOrMore,
    };

    public IEnumerable<Option> All => [Sae, KeepError, Clamp, Steer];

    /// <summary>The --steer plan with the SAE operations added (null when there is neither).</summary>
    public SteeringPlan? AddTo(ParseResult parse, Transformer model, SteeringPlan? plan)
    {
        string[] clamps = parse.GetValue(Clamp) ?? [], steers = parse.GetValue(Steer) ?? [];
        if (parse.GetValue(Sae) is not { } spec)
        {
            if (clamps.Length > 0 || steers.Length > 0 || parse.GetValue(KeepError))
                throw new NativeLayersException("--sae-clamp, --sae-steer and --sae-keep-error need --sae DIR.");
            return plan;
        }
        var sae = SaeFiles.Load(spec);
        var hook = SaeEvaluation.HookOf(model, sae);
        plan ??= new SteeringPlan();
        foreach (var text in steers)
        {
            var (feature, coefficient) = Pair(text, '*', "--sae-steer", "F*C");
            plan.Add(new AddVector(hook, sae.Direction(feature).ToArray(), coefficient, TokenSelection.All));
        }
        var clampList = clamps.Select(text => Pair(text, '=', "--sae-clamp", "F=V")).Select(p => new FeatureClamp(p.Feature, p.Value)).ToList();
        plan.Transform(hook, new SaeSplice(sae, parse.GetValue(KeepError), clampList));
        plan.Validate(model.Shape);
        return plan;
    }

    private static (int Feature, float Value) Pair(string text, char separator, string option, string form)
    {
        int at = text.IndexOf(separator);
        if (at <= 0 || !int.TryParse(text[..at], NumberStyles.None, CultureInfo.InvariantCulture, out int feature)
            || !float.TryParse(text[(at + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out float value) || !float.IsFinite(value))
            throw new NativeLayersException($"{option} '{text}' must look like {form}, e.g. {(separator == '=' ? "123=0" : "123*4")}.");
        return (feature, value);
    }
}
