using System.Globalization;
using System.Text;
using static NativeLayers.Tokenizing.Chat.JinjaValues;

namespace NativeLayers.Tokenizing.Chat;

/// <summary>The filters (value | name), tests (value is name) and methods (value.name()) chat templates use.</summary>
internal static class JinjaFilters
{
    public static object? Apply(string name, object? value, IReadOnlyList<object?> args, IReadOnlyDictionary<string, object?> keywords)
    {
        object? Arg(int i, string keyword, object? fallback = null) => i < args.Count ? args[i] : keywords.TryGetValue(keyword, out var v) ? v : fallback;
        switch (name)
        {
            case "trim": return Text(value, name).Trim();
            case "length" or "count": return Length(value);
            case "tojson": return Json(value, Arg(0, "indent") is long indent ? (int)indent : null);
            case "upper": return Text(value, name).ToUpperInvariant();
            case "lower": return Text(value, name).ToLowerInvariant();
            case "capitalize": return Capitalize(Text(value, name));
            case "title": return Title(Text(value, name));
            case "string": return Print(value);
            case "safe": return value;
            case "int": return value switch
            {
                long l => l,
                double d => (long)d,
                bool b => b ? 1L : 0L,
                string s when long.TryParse(s.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long l) => l,
                _ => Arg(0, "default", 0L),
            };
            case "float": return value switch
            {
                long or double or bool => Number(value),
                string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) => d,
                _ => Arg(0, "default", 0.0),
            };
            case "default" or "d":
                bool boolean = Truthy(Arg(1, "boolean", false));
                return value is JinjaUndefined || (boolean && !Truthy(value)) ? Arg(0, "default_value", "") : value;
            case "first": return Items(value) is { Count: > 0 } first ? first[0] : new JinjaUndefined("first");
            case "last": return Items(value) is { Count: > 0 } last ? last[^1] : new JinjaUndefined("last");
            case "join":
                string separator = Arg(0, "d", "") as string ?? "";
                return string.Join(separator, Items(value).Select(x => Arg(1, "attribute") is string attribute ? Print(Get(x, attribute)) : Print(x)));
            case "replace": return Text(value, name).Replace(Text(Arg(0, "old"), name), Text(Arg(1, "new"), name), StringComparison.Ordinal);
            case "list": return Items(value).ToList();
            case "reverse": return value is string s2 ? new string(s2.Reverse().ToArray()) : Items(value).Reverse().ToList();
            case "items": return Pairs(value);
            case "unique": return Items(value).Aggregate(new List<object?>(), (kept, x) => { if (!kept.Any(k => JinjaValues.Equals(k, x))) kept.Add(x); return kept; });
            // An integer stays an integer (Python: abs(-3) is 3); the conditional alone would widen it to a float.
            case "abs": return value is long l2 ? (object)Math.Abs(l2) : Math.Abs(Number(value));
            case "map":
                if (keywords.TryGetValue("attribute", out var named) && named is string attr) return Items(value).Select(x => Get(x, attr)).ToList();
                if (args.Count > 0 && args[0] is string filter) return Items(value).Select(x => Apply(filter, x, args.Skip(1).ToList(), new Dictionary<string, object?>())).ToList();
                throw new ChatTemplateException("map needs attribute=NAME or a filter name.");
            case "selectattr" or "rejectattr":
                string field = Text(Arg(0, "attribute"), name);
                bool select = name == "selectattr";
                return Items(value).Where(x =>
                {
                    var v = Get(x, field);
                    bool passes = args.Count > 1 ? Test(Text(args[1], name), v, args.Skip(2).ToList()) : Truthy(v);
                    return passes == select;
                }).ToList();
            case "indent":
                string pad = new(' ', (int)(Arg(0, "width", 4L) is long w ? w : 4));
                bool first2 = Truthy(Arg(1, "first", false));
                var lines = Text(value, name).Split('\n');
                return string.Join("\n", lines.Select((line, i) => (i == 0 && !first2) || line.Length == 0 ? line : pad + line));
            default:
                throw new ChatTemplateException($"the filter '{name}' is not supported by this chat-template renderer.");
        }
    }

    public static bool Test(string name, object? value, IReadOnlyList<object?> args) => name switch
    {
        "defined" => value is not JinjaUndefined,
        "undefined" => value is JinjaUndefined,
        "none" => value == null,
        "string" => value is string,
        "number" => value is long or double,
        "integer" => value is long,
        "float" => value is double,
        "boolean" => value is bool,
        "true" => value is true,
        "false" => value is false,
        "mapping" => value is IDictionary<string, object?>,
        "sequence" or "iterable" => value is IList<object?> or string or IDictionary<string, object?>,
        "callable" => value is JinjaCallable,
        "even" => value is long e && e % 2 == 0,
        "odd" => value is long o && o % 2 != 0,
        "divisibleby" => value is long a && args.Count > 0 && args[0] is long b && b != 0 && a % b == 0,
        "eq" or "equalto" or "==" or "sameas" => args.Count > 0 && JinjaValues.Equals(value, args[0]),
        "ne" or "!=" => args.Count > 0 && !JinjaValues.Equals(value, args[0]),
        "lt" or "lessthan" or "<" => Compare(value, args[0]) < 0,
        "gt" or "greaterthan" or ">" => Compare(value, args[0]) > 0,
        "le" or "<=" => Compare(value, args[0]) <= 0,
        "ge" or ">=" => Compare(value, args[0]) >= 0,
        "in" => args.Count > 0 && args[0] switch
        {
            IList<object?> list => list.Any(x => JinjaValues.Equals(x, value)),
            IDictionary<string, object?> dict => value is string k && dict.ContainsKey(k),
            string s => value is string sub && s.Contains(sub, StringComparison.Ordinal),
            _ => false,
        },
        "lower" => value is string l && l == l.ToLowerInvariant(),
        "upper" => value is string u && u == u.ToUpperInvariant(),
        _ => throw new ChatTemplateException($"the test '{name}' is not supported by this chat-template renderer."),
    };

    private static readonly HashSet<string> StringMethods = ["strip", "lstrip", "rstrip", "startswith", "endswith", "split", "upper", "lower", "title", "capitalize", "replace", "find", "count", "join", "format"];
    private static readonly HashSet<string> DictMethods = ["items", "keys", "values", "get"];

    public static bool HasMethod(object? target, string name) => target switch
    {
        string => StringMethods.Contains(name),
        IDictionary<string, object?> => DictMethods.Contains(name),
        _ => false,
    };

    /// <summary>A bound method, or null when <paramref name="target"/> has none of that name.</summary>
    public static JinjaCallable? Method(object? target, string name)
    {
        switch (target)
        {
            case string s when StringMethods.Contains(name):
                return (args, keywords) => StringMethod(s, name, args);
            case IDictionary<string, object?> dict when DictMethods.Contains(name):
                return (args, _) => name switch
                {
                    "items" => Pairs(dict),
                    "keys" => dict.Keys.Cast<object?>().ToList(),
                    "values" => dict.Values.ToList(),
                    _ => args.Count > 0 && args[0] is string key && dict.TryGetValue(key, out var v) ? v : args.Count > 1 ? args[1] : null,
                };
            case IList<object?> when name is "append" or "pop" or "extend" or "insert":
                throw new ChatTemplateException($"lists cannot be changed in a chat template ({name}); Hugging Face renders templates in an immutable sandbox.");
            default:
                return null;
        }
    }

    private static object? StringMethod(string s, string name, IReadOnlyList<object?> args)
    {
        string? chars = args.Count > 0 ? args[0] as string : null;
        switch (name)
        {
            case "strip": return chars == null ? s.Trim() : s.Trim(chars.ToCharArray());
            case "lstrip": return chars == null ? s.TrimStart() : s.TrimStart(chars.ToCharArray());
            case "rstrip": return chars == null ? s.TrimEnd() : s.TrimEnd(chars.ToCharArray());
            case "startswith": return Prefixes(args).Any(p => s.StartsWith(p, StringComparison.Ordinal));
            case "endswith": return Prefixes(args).Any(p => s.EndsWith(p, StringComparison.Ordinal));
            case "upper": return s.ToUpperInvariant();
            case "lower": return s.ToLowerInvariant();
            case "title": return Title(s);
            case "capitalize": return Capitalize(s);
            case "replace": return s.Replace(Text(args[0], name), Text(args[1], name), StringComparison.Ordinal);
            case "find": return (long)s.IndexOf(Text(args[0], name), StringComparison.Ordinal);
            case "count": return (long)(Text(args[0], name) is { Length: > 0 } sub ? (s.Length - s.Replace(sub, "", StringComparison.Ordinal).Length) / sub.Length : s.Length + 1);
            case "join": return string.Join(s, Items(args.Count > 0 ? args[0] : null).Select(Print));
            case "split":
                long max = args.Count > 1 && args[1] is long m ? m : -1;
                if (chars == null)
                    return s.Split((char[]?)null, max < 0 ? int.MaxValue : (int)max + 1, StringSplitOptions.RemoveEmptyEntries).Select(x => (object?)x).ToList();
                return s.Split(chars, max < 0 ? int.MaxValue : (int)max + 1, StringSplitOptions.None).Select(x => (object?)x).ToList();
            default:
                throw new ChatTemplateException($"the string method '{name}' is not supported by this chat-template renderer.");
        }
    }

    private static IEnumerable<string> Prefixes(IReadOnlyList<object?> args) => args.Count == 0 ? []
        : args[0] is IList<object?> many ? many.Select(p => Text(p, "startswith")) : [Text(args[0], "startswith")];

    private static List<object?> Pairs(object? value) => value is IDictionary<string, object?> dict
        ? dict.Select(p => (object?)new List<object?> { p.Key, p.Value }).ToList()
        : throw new ChatTemplateException($"items() needs a dict, got {TypeName(value)}.");

    private static object? Get(object? item, string attribute) =>
        item is IDictionary<string, object?> dict ? dict.TryGetValue(attribute, out var v) ? v : new JinjaUndefined(attribute) : new JinjaUndefined(attribute);

    private static string Text(object? value, string context) => value switch
    {
        string s => s,
        JinjaUndefined u => throw new ChatTemplateException($"'{u.Name}' is undefined ({context} needs a string)."),
        _ => throw new ChatTemplateException($"{context} needs a string, got {TypeName(value)}."),
    };

    private static string Capitalize(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();

    private static string Title(string s)
    {
        var text = new StringBuilder(s.Length);
        bool startOfWord = true;
        foreach (char c in s)
        {
            text.Append(startOfWord ? char.ToUpperInvariant(c) : char.ToLowerInvariant(c));
            startOfWord = !char.IsLetterOrDigit(c) && c != '\'';
        }
        return text.ToString();
    }
}
