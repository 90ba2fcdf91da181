using System.CommandLine;
using System.Globalization;
using NativeLayers.Analysis.Steering;
using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Cli;

/// <summary>
/// The repeatable --steer FILE@L*C option: adds C times tensor layer.L of FILE to blocks.L.hook_resid_post at
/// every position; FILE@A-B*C does so for each layer A..B with its own layer.l tensor.
/// </summary>
public static class SteerOption
{
    public static Option<string[]> Create() => new("--steer")
    {
        Description = "Add a steering vector: FILE@L*C adds C × tensor 'layer.L' of FILE to the residual after block L; FILE@A-B*C for a range. Repeatable.",
        AllowMultipleArgumentsPerToken = false,
        Arity = ArgumentArity.ZeroOrMore,
    };

    public static SteeringPlan? Parse(IEnumerable<string>? specs, Transformer model)
    {
        var list = specs?.ToList() ?? [];
        if (list.Count == 0) return null;
        var plan = new SteeringPlan();
        foreach (var spec in list)
        {
            var (file, first, last, coefficient) = Split(spec, model.Layers);
            var vectors = SteeringVectorSet.Load(file);
            if (vectors.Width != model.Width)
                throw new ModelFileException(file, $"vectors have width {vectors.Width}, but the model's width is {model.Width}.");
            for (int layer = first; layer <= last; layer++)
            {
                if (!vectors.TryGet(layer, out var vector))
                    throw new NativeLayersException($"--steer {spec}: {file} has no vector for layer {layer} (it has layers {string.Join(", ", vectors.Layers)}).");
                plan.AddVector(layer, vector.ToArray(), coefficient);
            }
        }
        plan.Validate(model.Shape);
        return plan;
    }

    private static (string File, int First, int Last, float Coefficient) Split(string spec, int layers)
    {
        int at = spec.LastIndexOf('@');
        if (at <= 0) throw new NativeLayersException($"--steer '{spec}' must look like FILE@LAYER*COEFFICIENT, e.g. v.safetensors@3*4.0.");
        string file = spec[..at], rest = spec[(at + 1)..];
        int star = rest.IndexOf('*');
        string layerText = star < 0 ? rest : rest[..star];
        float coefficient = 1f;
        if (star >= 0 && !(float.TryParse(rest[(star + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out coefficient) && float.IsFinite(coefficient)))
            throw new NativeLayersException($"--steer '{spec}': '{rest[(star + 1)..]}' is not a finite number.");
        var selected = CommonOptions.Layers(layerText, layers, $"--steer '{spec}'");
        if (selected.Length == 0 || selected[^1] - selected[0] + 1 != selected.Length)
            throw new NativeLayersException($"--steer '{spec}': give one layer or a range A-B.");
        return (file, selected[0], selected[^1], coefficient);
    }
}
