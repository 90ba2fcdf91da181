using System.Globalization;
using System.Text;

namespace NativeLayers.Tokenizing.Chat;

/// <summary>A name or attribute that is not there: prints as nothing and is false, as Jinja's default Undefined.</summary>
internal sealed record JinjaUndefined(string Name);

/// <summary>What namespace(...) makes: attributes that {% set ns.x = ... %} may change from inside loops.</summary>
internal sealed class JinjaNamespace : Dictionary<string, object?>;

internal delegate object? JinjaCallable(IReadOnlyList<object?> arguments, IReadOnlyDictionary<string, object?> keywords);

/// <summary>Python's semantics for the values templates handle: strings, integers (long), floats (double), booleans, None, lists and dicts.</summary>
internal static class JinjaValues
{
    public static bool Truthy(object? value) => value switch
    {
        null or JinjaUndefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        System.Collections.ICollection c => c.Count > 0,
        _ => true,
    };

    /// <summary>What {{ value }} prints (Python's str()).</summary>
    public static string Print(object? value) => value switch
    {
        string s => s,
        JinjaUndefined => "",
        _ => Repr(value, top: true),
    };

    /// <summary>Python's repr() (str() for numbers, booleans and None).</summary>
    public static string Repr(object? value, bool top = false) => value switch
    {
        null => "None",
        JinjaUndefined => "",
        bool b => b ? "True" : "False",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => Float(d),
        string s => top ? s : Quote(s),
        IDictionary<string, object?> dict => "{" + string.Join(", ", dict.Select(p => $"{Quote(p.Key)}: {Repr(p.Value)}")) + "}",
        IList<object?> list => "[" + string.Join(", ", list.Select(x => Repr(x))) + "]",
        _ => value.ToString() ?? "",
    };

    private static string Float(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsInfinity(d)) return d > 0 ? "inf" : "-inf";
        string r = d.ToString("R", CultureInfo.InvariantCulture);
        return r.Contains('.') || r.Contains('E') ? r.Replace("E+", "e+").Replace("E-", "e-") : r + ".0";
    }

    private static string Quote(string s)
    {
        char quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        var text = new StringBuilder().Append(quote);
        foreach (char c in s)
            text.Append(c switch
            {
                '\\' => "\\\\",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                _ when c == quote => "\\" + c,
                _ => c.ToString(),
            });
        return text.Append(quote).ToString();
    }

    public static bool IsNumber(object? value) => value is long or double or bool;

    public static double Number(object? value) => value switch
    {
        long l => l,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw new ChatTemplateException($"{TypeName(value)} is not a number."),
    };

    public static new bool Equals(object? a, object? b)
    {
        if (a is JinjaUndefined || b is JinjaUndefined) return a is JinjaUndefined && b is JinjaUndefined;
        if (a == null || b == null) return a == null && b == null;
        if (IsNumber(a) && IsNumber(b)) return Number(a) == Number(b);
        if (a is string sa && b is string sb) return string.Equals(sa, sb, StringComparison.Ordinal);
        if (a is IDictionary<string, object?> da && b is IDictionary<string, object?> db)
            return da.Count == db.Count && da.All(p => db.TryGetValue(p.Key, out var v) && Equals(p.Value, v));
        if (a is IList<object?> la && b is IList<object?> lb)
            return la.Count == lb.Count && la.Zip(lb).All(p => Equals(p.First, p.Second));
        return ReferenceEquals(a, b);
    }

    public static int Compare(object? a, object? b)
    {
        if (IsNumber(a) && IsNumber(b)) return Number(a).CompareTo(Number(b));
        if (a is string sa && b is string sb) return string.CompareOrdinal(sa, sb);
        throw new ChatTemplateException($"cannot order {TypeName(a)} and {TypeName(b)}.");
    }

    /// <summary>Iterates a value as a for loop does: a list's items, a dict's keys, a string's characters.</summary>
    public static IReadOnlyList<object?> Items(object? value) => value switch
    {
        IList<object?> list => list.ToList(),
        IDictionary<string, object?> dict => dict.Keys.Cast<object?>().ToList(),
        string s => s.EnumerateRunes().Select(r => (object?)r.ToString()).ToList(),
        JinjaUndefined => [],
        _ => throw new ChatTemplateException($"{TypeName(value)} cannot be iterated."),
    };

    public static long Length(object? value) => value switch
    {
        string s => s.EnumerateRunes().Count(),
        System.Collections.ICollection c => c.Count,
        _ => throw new ChatTemplateException($"{TypeName(value)} has no length."),
    };

    public static string TypeName(object? value) => value switch
    {
        null => "None",
        JinjaUndefined u => $"'{u.Name}' (undefined)",
        bool => "a boolean",
        long => "an integer",
        double => "a float",
        string => "a string",
        IDictionary<string, object?> => "a dict",
        IList<object?> => "a list",
        JinjaCallable => "a function",
        _ => value.GetType().Name,
    };

    /// <summary>json.dumps as Hugging Face's tojson calls it (ensure_ascii off, ", " and ": " separators, optional indent).</summary>
    public static string Json(object? value, int? indent, int depth = 0)
    {
        string Pad(int d) => indent is { } n ? "\n" + new string(' ', n * d) : "";
        string itemSeparator = indent != null ? "," : ", ";
        return value switch
        {
            null or JinjaUndefined => "null",
            bool b => b ? "true" : "false",
            long l => l.ToString(CultureInfo.InvariantCulture),
            double d => Float(d) switch { "nan" => "NaN", "inf" => "Infinity", "-inf" => "-Infinity", var f => f },
            string s => JsonString(s),
            IDictionary<string, object?> dict => dict.Count == 0 ? "{}"
                : "{" + string.Join(itemSeparator, dict.Select(p => Pad(depth + 1) + JsonString(p.Key) + ": " + Json(p.Value, indent, depth + 1))) + Pad(depth) + "}",
            IList<object?> list => list.Count == 0 ? "[]"
                : "[" + string.Join(itemSeparator, list.Select(x => Pad(depth + 1) + Json(x, indent, depth + 1))) + Pad(depth) + "]",
            _ => throw new ChatTemplateException($"{TypeName(value)} cannot be written as JSON."),
        };
    }

    private static string JsonString(string s)
    {
        var text = new StringBuilder("\"");
        foreach (char c in s)
            text.Append(c switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                '\b' => "\\b",
                '\f' => "\\f",
                < ' ' => $"\\u{(int)c:x4}",
                _ => c.ToString(),
            });
        return text.Append('"').ToString();
    }
}
