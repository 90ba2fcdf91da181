using System.Text;
using static NativeLayers.Tokenizing.Chat.JinjaValues;

namespace NativeLayers.Tokenizing.Chat;

/// <summary>
/// Runs a parsed template. Scopes follow Jinja: a for loop's body has its own (a set inside it is gone after the
/// loop, hence namespace()), if blocks do not. The filters, tests and methods are those chat templates use.
/// </summary>
internal sealed class JinjaRenderer
{
    private enum Flow { Normal, Break, Continue }

    private readonly List<Dictionary<string, object?>> _scopes;
    private readonly StringBuilder _output = new();

    private JinjaRenderer(Dictionary<string, object?> globals) => _scopes = [globals, new()];

    public static string Render(IReadOnlyList<Node> template, Dictionary<string, object?> globals)
    {
        var renderer = new JinjaRenderer(globals);
        renderer.Run(template);
        return renderer._output.ToString();
    }

    private Flow Run(IReadOnlyList<Node> nodes)
    {
        foreach (var node in nodes)
        {
            var flow = Run(node);
            if (flow != Flow.Normal) return flow;
        }
        return Flow.Normal;
    }

    private Flow Run(Node node)
    {
        switch (node)
        {
            case TextNode text: _output.Append(text.Text); break;
            case OutputNode output: _output.Append(Print(Evaluate(output.Value))); break;
            case IfNode branch:
                foreach (var (condition, body) in branch.Branches)
                    if (Truthy(Evaluate(condition))) return Run(body);
                if (branch.Else != null) return Run(branch.Else);
                break;
            case ForNode loop: RunFor(loop); break;
            case SetNode set:
                var value = Evaluate(set.Value);
                if (set.Attribute == null) _scopes[^1][set.Name] = value;
                else if (Lookup(set.Name) is JinjaNamespace ns) ns[set.Attribute] = value;
                else throw new ChatTemplateException($"cannot set '{set.Name}.{set.Attribute}': '{set.Name}' is not a namespace().");
                break;
            case SetBlockNode block:
                var saved = _output.Length;
                Run(block.Body);
                _scopes[^1][block.Name] = _output.ToString(saved, _output.Length - saved);
                _output.Length = saved;
                break;
            case BreakNode: return Flow.Break;
            case ContinueNode: return Flow.Continue;
        }
        return Flow.Normal;
    }

    private void RunFor(ForNode loop)
    {
        var source = Evaluate(loop.Items);
        var items = source is IDictionary<string, object?> && loop.Targets.Count == 2
            ? throw new ChatTemplateException("iterate a dict's pairs with .items().")
            : Items(source).ToList();
        if (loop.Filter != null)
            items = items.Where(item =>
            {
                _scopes.Add(Bind(loop.Targets, item));
                try { return Truthy(Evaluate(loop.Filter)); }
                finally { _scopes.RemoveAt(_scopes.Count - 1); }
            }).ToList();
        if (items.Count == 0)
        {
            if (loop.Else != null) Run(loop.Else);
            return;
        }
        for (int i = 0; i < items.Count; i++)
        {
            var scope = Bind(loop.Targets, items[i]);
            int index = i;
            scope["loop"] = new Dictionary<string, object?>
            {
                ["index"] = (long)i + 1, ["index0"] = (long)i, ["revindex"] = (long)(items.Count - i), ["revindex0"] = (long)(items.Count - i - 1),
                ["first"] = i == 0, ["last"] = i == items.Count - 1, ["length"] = (long)items.Count,
                ["previtem"] = i > 0 ? items[i - 1] : new JinjaUndefined("loop.previtem"),
                ["nextitem"] = i < items.Count - 1 ? items[i + 1] : new JinjaUndefined("loop.nextitem"),
                ["cycle"] = (JinjaCallable)((args, _) => args.Count == 0 ? null : args[index % args.Count]),
            };
            _scopes.Add(scope);
            Flow flow;
            try { flow = Run(loop.Body); }
            finally { _scopes.RemoveAt(_scopes.Count - 1); }
            if (flow == Flow.Break) break;
        }
    }

    private static Dictionary<string, object?> Bind(IReadOnlyList<string> targets, object? item)
    {
        if (targets.Count == 1) return new() { [targets[0]] = item };
        var parts = item as IList<object?> ?? throw new ChatTemplateException($"cannot unpack {TypeName(item)} into {targets.Count} names.");
        if (parts.Count != targets.Count) throw new ChatTemplateException($"cannot unpack {parts.Count} values into {targets.Count} names.");
        return targets.Select((t, i) => (t, parts[i])).ToDictionary(p => p.t, p => p.Item2);
    }

    private object? Lookup(string name)
    {
        for (int i = _scopes.Count - 1; i >= 0; i--)
            if (_scopes[i].TryGetValue(name, out var value)) return value;
        return Globals.TryGetValue(name, out var global) ? global : new JinjaUndefined(name);
    }

    // ------------------------------------------------------------------ expressions

    private object? Evaluate(Expr expr) => expr switch
    {
        LiteralExpr literal => literal.Value,
        NameExpr name => Lookup(name.Name),
        AttributeExpr attribute => Attribute(Evaluate(attribute.Target), attribute.Name, preferItem: false),
        IndexExpr index => Index(Evaluate(index.Target), Evaluate(index.Index)),
        SliceExpr slice => Slice(Evaluate(slice.Target), Optional(slice.Start), Optional(slice.Stop), Optional(slice.Step)),
        CallExpr call => Call(Evaluate(call.Target), call),
        FilterExpr filter => JinjaFilters.Apply(filter.Name, Evaluate(filter.Value), filter.Arguments.Select(Evaluate).ToList(),
            filter.Keywords.ToDictionary(k => k.Name, k => Evaluate(k.Value))),
        TestExpr test => JinjaFilters.Test(test.Name, Evaluate(test.Value), test.Arguments.Select(Evaluate).ToList()) != test.Negated,
        UnaryExpr { Operator: "not" } not => !Truthy(Evaluate(not.Operand)),
        UnaryExpr { Operator: "-" } minus => Evaluate(minus.Operand) switch
        {
            long l => (object)(-l),
            double d => -d,
            var other => throw new ChatTemplateException($"cannot negate {TypeName(other)}."),
        },
        UnaryExpr plus => Evaluate(plus.Operand),
        BinaryExpr { Operator: "and" } and => Truthy(Evaluate(and.Left)) ? Evaluate(and.Right) : Evaluate(and.Left),
        BinaryExpr { Operator: "or" } or => Evaluate(or.Left) is var left && Truthy(left) ? left : Evaluate(or.Right),
        BinaryExpr binary => Binary(binary.Operator, Evaluate(binary.Left), Evaluate(binary.Right)),
        ConditionalExpr conditional => Truthy(Evaluate(conditional.Condition))
            ? Evaluate(conditional.Then)
            : conditional.Else != null ? Evaluate(conditional.Else) : new JinjaUndefined("else"),
        ListExpr list => list.Items.Select(Evaluate).ToList(),
        DictExpr dict => dict.Items.ToDictionary(p => Evaluate(p.Key) as string ?? throw new ChatTemplateException("dict keys must be strings."), p => Evaluate(p.Value)),
        _ => throw new ChatTemplateException($"unsupported expression {expr.GetType().Name}."),
    };

    private long? Optional(Expr? expr) => expr == null ? null : Evaluate(expr) switch
    {
        null => null,
        long l => l,
        var other => throw new ChatTemplateException($"slice bounds must be integers, got {TypeName(other)}."),
    };

    /// <summary>x.name: a method of strings and dicts first, then a dict key (x['name'] reverses that order).</summary>
    private static object? Attribute(object? target, string name, bool preferItem)
    {
        if (target is JinjaUndefined u) throw new ChatTemplateException($"'{u.Name}' is undefined, so it has no attribute '{name}'.");
        if (target is IDictionary<string, object?> dict && (preferItem || target is JinjaNamespace || !JinjaFilters.HasMethod(target, name)))
            return dict.TryGetValue(name, out var value) ? value : new JinjaUndefined(name);
        return (object?)JinjaFilters.Method(target, name) ?? new JinjaUndefined(name);
    }

    private static object? Index(object? target, object? index)
    {
        switch (target, index)
        {
            case (IList<object?> list, long i):
                long at = i < 0 ? list.Count + i : i;
                return at >= 0 && at < list.Count ? list[(int)at] : new JinjaUndefined($"[{i}]");
            case (string s, long i):
                var runes = s.EnumerateRunes().ToArray();
                long position = i < 0 ? runes.Length + i : i;
                return position >= 0 && position < runes.Length ? runes[position].ToString() : new JinjaUndefined($"[{i}]");
            case (IDictionary<string, object?>, string key):
                return Attribute(target, key, preferItem: true);
            case (JinjaUndefined u, _):
                throw new ChatTemplateException($"'{u.Name}' is undefined, so it cannot be indexed.");
            case (_, string name):
                return Attribute(target, name, preferItem: true);
            default:
                throw new ChatTemplateException($"cannot index {TypeName(target)} with {TypeName(index)}.");
        }
    }

    private static object? Slice(object? target, long? start, long? stop, long? step)
    {
        var items = target switch
        {
            IList<object?> list => list.ToList(),
            string s => s.EnumerateRunes().Select(r => (object?)r.ToString()).ToList(),
            _ => throw new ChatTemplateException($"cannot slice {TypeName(target)}."),
        };
        long n = items.Count, by = step ?? 1;
        if (by == 0) throw new ChatTemplateException("a slice step cannot be zero.");
        long Clamp(long? value, long fallback, long low, long high) => value is not { } v ? fallback : Math.Clamp(v < 0 ? v + n : v, low, high);
        var picked = new List<object?>();
        if (by > 0)
            for (long i = Clamp(start, 0, 0, n); i < Clamp(stop, n, 0, n); i += by) picked.Add(items[(int)i]);
        else
            for (long i = Clamp(start, n - 1, -1, n - 1); i > Clamp(stop, -1, -1, n - 1); i += by) picked.Add(items[(int)i]);
        return target is string ? string.Concat(picked.Cast<string>()) : picked;
    }

    private object? Call(object? target, CallExpr call)
    {
        if (target is not JinjaCallable function)
            throw new ChatTemplateException(target is JinjaUndefined u ? $"'{u.Name}' is undefined (not a function this renderer knows)." : $"{TypeName(target)} cannot be called.");
        return function(call.Arguments.Select(Evaluate).ToList(), call.Keywords.ToDictionary(k => k.Name, k => Evaluate(k.Value)));
    }

    private static object? Binary(string op, object? left, object? right)
    {
        switch (op)
        {
            case "==": return JinjaValues.Equals(left, right);
            case "!=": return !JinjaValues.Equals(left, right);
            case "<": return Compare(left, right) < 0;
            case ">": return Compare(left, right) > 0;
            case "<=": return Compare(left, right) <= 0;
            case ">=": return Compare(left, right) >= 0;
            case "in": return Contains(right, left);
            case "not in": return !Contains(right, left);
            case "~": return Print(left) + Print(right);
        }
        if (left is string a && right is string b && op == "+") return a + b;
        if (left is IList<object?> la && right is IList<object?> lb && op == "+") return la.Concat(lb).ToList();
        if (op == "*" && left is string text && right is long times) return string.Concat(Enumerable.Repeat(text, (int)Math.Max(0, times)));
        if (!IsNumber(left) || !IsNumber(right))
            throw new ChatTemplateException($"unsupported operand types for {op}: {TypeName(left)} and {TypeName(right)}.");
        if (left is double || right is double || op == "/")
        {
            double x = Number(left), y = Number(right);
            return op switch
            {
                "+" => x + y, "-" => x - y, "*" => x * y, "/" => x / y,
                "//" => Math.Floor(x / y), "%" => x - y * Math.Floor(x / y), "**" => Math.Pow(x, y),
                _ => throw new ChatTemplateException($"unsupported operator {op}."),
            };
        }
        long p = (long)Number(left), q = (long)Number(right);
        if (op is "//" or "%" && q == 0) throw new ChatTemplateException("integer division by zero.");
        return op switch
        {
            "+" => p + q, "-" => p - q, "*" => p * q,
            "//" => (long)Math.Floor((double)p / q), "%" => ((p % q) + q) % q,
            "**" => q >= 0 ? (object)(long)Math.Pow(p, q) : Math.Pow(p, q),
            _ => throw new ChatTemplateException($"unsupported operator {op}."),
        };
    }

    private static bool Contains(object? container, object? item) => container switch
    {
        string s => item is string sub ? s.Contains(sub, StringComparison.Ordinal) : throw new ChatTemplateException($"'in <string>' needs a string, got {TypeName(item)}."),
        IDictionary<string, object?> dict => item is string key && dict.ContainsKey(key),
        IList<object?> list => list.Any(x => JinjaValues.Equals(x, item)),
        JinjaUndefined u => throw new ChatTemplateException($"'{u.Name}' is undefined, so nothing is in it."),
        _ => throw new ChatTemplateException($"cannot look inside {TypeName(container)}."),
    };

    /// <summary>Functions every template can call.</summary>
    private static readonly Dictionary<string, object?> Globals = new()
    {
        ["raise_exception"] = (JinjaCallable)((args, _) => throw new ChatTemplateException(args.Count > 0 ? Print(args[0]) : "the template raised an exception.", raisedByTemplate: true)),
        ["range"] = (JinjaCallable)((args, _) =>
        {
            var n = args.Select(a => (long)Number(a)).ToArray();
            var (start, stop, step) = n.Length switch
            {
                1 => (0L, n[0], 1L),
                2 => (n[0], n[1], 1L),
                3 => (n[0], n[1], n[2]),
                _ => throw new ChatTemplateException("range takes 1 to 3 integers."),
            };
            if (step == 0) throw new ChatTemplateException("range step cannot be zero.");
            var values = new List<object?>();
            for (long i = start; step > 0 ? i < stop : i > stop; i += step) values.Add(i);
            return values;
        }),
        ["namespace"] = (JinjaCallable)((args, keywords) =>
        {
            var ns = new JinjaNamespace();
            foreach (var arg in args)
                if (arg is IDictionary<string, object?> initial) foreach (var (k, v) in initial) ns[k] = v;
            foreach (var (k, v) in keywords) ns[k] = v;
            return ns;
        }),
        ["dict"] = (JinjaCallable)((args, keywords) => new Dictionary<string, object?>(keywords)),
    };
}
