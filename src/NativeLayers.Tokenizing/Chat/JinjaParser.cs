using System.Globalization;

namespace NativeLayers.Tokenizing.Chat;

/// <summary>
/// Parses the Jinja subset that chat templates use: if/elif/else, for (with else, a filter, tuple targets and
/// loop.*), set (also ns.attribute and block form), break/continue, generation blocks, and expressions with
/// filters, tests, calls, attributes, indexes, slices and Python's operators. Anything else is an error naming it.
/// </summary>
internal sealed class JinjaParser
{
    private readonly List<JinjaToken> _tokens;
    private int _at;

    private JinjaParser(List<JinjaToken> tokens) => _tokens = tokens;

    public static IReadOnlyList<Node> Parse(string source)
    {
        var parser = new JinjaParser(JinjaLexer.Tokenize(source));
        var body = parser.Body(out string? end);
        if (end != null) throw new ChatTemplateException($"'{{% {end} %}}' has no matching opening tag.");
        return body;
    }

    private JinjaToken Peek(int ahead = 0) => _tokens[Math.Min(_at + ahead, _tokens.Count - 1)];
    private JinjaToken Next() => _tokens[_at++];

    private bool IsOperator(string op) => Peek().Kind == TokenKind.Operator && Peek().Value == op;
    private bool IsName(string name) => Peek().Kind == TokenKind.Name && Peek().Value == name;

    private void Expect(string op)
    {
        if (!IsOperator(op)) throw Unexpected($"'{op}'");
        _at++;
    }

    private void ExpectName(string name)
    {
        if (!IsName(name)) throw Unexpected($"'{name}'");
        _at++;
    }

    private string Name()
    {
        if (Peek().Kind != TokenKind.Name) throw Unexpected("a name");
        return Next().Value;
    }

    private ChatTemplateException Unexpected(string expected)
    {
        var token = Peek();
        string found = token.Kind switch
        {
            TokenKind.End => "the end of the template",
            TokenKind.BlockEnd => "'%}'",
            TokenKind.OutputEnd => "'}}'",
            TokenKind.Text => "text",
            _ => $"'{token.Value}'",
        };
        return new ChatTemplateException($"expected {expected} at offset {token.Offset}, found {found}.");
    }

    /// <summary>Nodes up to an end tag that this level does not own; <paramref name="end"/> is that tag's keyword (null at the end).</summary>
    private List<Node> Body(out string? end)
    {
        var nodes = new List<Node>();
        while (true)
        {
            var token = Next();
            switch (token.Kind)
            {
                case TokenKind.End:
                    end = null;
                    return nodes;
                case TokenKind.Text:
                    nodes.Add(new TextNode(token.Value));
                    break;
                case TokenKind.OutputStart:
                    nodes.Add(new OutputNode(Expression()));
                    if (Next().Kind != TokenKind.OutputEnd) { _at--; throw Unexpected("'}}'"); }
                    break;
                case TokenKind.BlockStart:
                    string keyword = Name();
                    if (keyword is "endif" or "elif" or "else" or "endfor" or "endset" or "endgeneration")
                    {
                        end = keyword;
                        return nodes;
                    }
                    nodes.AddRange(Statement(keyword));
                    break;
                default:
                    _at--;
                    throw Unexpected("text or a tag");
            }
        }
    }

    private void EndTag()
    {
        if (Next().Kind != TokenKind.BlockEnd) { _at--; throw Unexpected("'%}'"); }
    }

    private IEnumerable<Node> Statement(string keyword)
    {
        switch (keyword)
        {
            case "if": return [If()];
            case "for": return [For()];
            case "set": return [Set()];
            case "break": EndTag(); return [new BreakNode()];
            case "continue": EndTag(); return [new ContinueNode()];
            case "generation":
                // Hugging Face's marker for assistant tokens: renders its body unchanged.
                EndTag();
                var body = Body(out string? end);
                if (end != "endgeneration") throw new ChatTemplateException("'{% generation %}' is not closed with '{% endgeneration %}'.");
                EndTag();
                return body;
            default:
                throw new ChatTemplateException($"the '{{% {keyword} %}}' statement is not supported by this chat-template renderer (supported: if, for, set, break, continue, generation).");
        }
    }

    private IfNode If()
    {
        var branches = new List<(Expr, IReadOnlyList<Node>)>();
        var condition = Expression();
        EndTag();
        while (true)
        {
            var body = Body(out string? end);
            branches.Add((condition, body));
            switch (end)
            {
                case "elif":
                    condition = Expression();
                    EndTag();
                    continue;
                case "else":
                    EndTag();
                    var otherwise = Body(out string? close);
                    if (close != "endif") throw new ChatTemplateException("'{% else %}' of an if is not closed with '{% endif %}'.");
                    EndTag();
                    return new IfNode(branches, otherwise);
                case "endif":
                    EndTag();
                    return new IfNode(branches, null);
                default:
                    throw new ChatTemplateException("an '{% if %}' is not closed with '{% endif %}'.");
            }
        }
    }

    private ForNode For()
    {
        var targets = new List<string> { Name() };
        while (IsOperator(","))
        {
            _at++;
            targets.Add(Name());
        }
        ExpectName("in");
        var items = Conditional(allowBareIf: false);
        Expr? filter = null;
        if (IsName("if"))
        {
            _at++;
            filter = Expression();
        }
        if (IsName("recursive")) throw new ChatTemplateException("recursive for loops are not supported.");
        EndTag();
        var body = Body(out string? end);
        List<Node>? otherwise = null;
        if (end == "else")
        {
            EndTag();
            otherwise = Body(out end);
        }
        if (end != "endfor") throw new ChatTemplateException("a '{% for %}' is not closed with '{% endfor %}'.");
        EndTag();
        return new ForNode(targets, items, filter, body, otherwise);
    }

    private Node Set()
    {
        string name = Name();
        string? attribute = null;
        if (IsOperator("."))
        {
            _at++;
            attribute = Name();
        }
        if (attribute == null && Peek().Kind == TokenKind.BlockEnd)
        {
            EndTag();
            var body = Body(out string? end);
            if (end != "endset") throw new ChatTemplateException("a '{% set %}' block is not closed with '{% endset %}'.");
            EndTag();
            return new SetBlockNode(name, body);
        }
        if (IsOperator(",")) throw new ChatTemplateException("setting several names at once is not supported.");
        Expect("=");
        var value = Expression();
        EndTag();
        return new SetNode(name, attribute, value);
    }

    // ------------------------------------------------------------------ expressions, lowest precedence first

    private Expr Expression() => Conditional(allowBareIf: true);

    private Expr Conditional(bool allowBareIf)
    {
        var value = Or();
        while (allowBareIf && IsName("if"))
        {
            _at++;
            var condition = Or();
            Expr? otherwise = null;
            if (IsName("else"))
            {
                _at++;
                otherwise = Conditional(allowBareIf);
            }
            value = new ConditionalExpr(condition, value, otherwise);
        }
        return value;
    }

    private Expr Or()
    {
        var left = And();
        while (IsName("or")) { _at++; left = new BinaryExpr("or", left, And()); }
        return left;
    }

    private Expr And()
    {
        var left = Not();
        while (IsName("and")) { _at++; left = new BinaryExpr("and", left, Not()); }
        return left;
    }

    private Expr Not()
    {
        if (IsName("not")) { _at++; return new UnaryExpr("not", Not()); }
        return Compare();
    }

    private Expr Compare()
    {
        var left = Additive();
        while (true)
        {
            if (Peek().Kind == TokenKind.Operator && Peek().Value is "==" or "!=" or "<" or ">" or "<=" or ">=")
                left = new BinaryExpr(Next().Value, left, Additive());
            else if (IsName("in")) { _at++; left = new BinaryExpr("in", left, Additive()); }
            else if (IsName("not") && Peek(1) is { Kind: TokenKind.Name, Value: "in" }) { _at += 2; left = new BinaryExpr("not in", left, Additive()); }
            else return left;
        }
    }

    private Expr Additive()
    {
        var left = Concat();
        while (Peek().Kind == TokenKind.Operator && Peek().Value is "+" or "-") left = new BinaryExpr(Next().Value, left, Concat());
        return left;
    }

    private Expr Concat()
    {
        var left = Multiplicative();
        while (IsOperator("~")) { _at++; left = new BinaryExpr("~", left, Multiplicative()); }
        return left;
    }

    private Expr Multiplicative()
    {
        var left = Power();
        while (Peek().Kind == TokenKind.Operator && Peek().Value is "*" or "/" or "//" or "%") left = new BinaryExpr(Next().Value, left, Power());
        return left;
    }

    private Expr Power()
    {
        var left = Unary();
        while (IsOperator("**")) { _at++; left = new BinaryExpr("**", left, Unary()); }
        return left;
    }

    private Expr Unary()
    {
        if (Peek().Kind == TokenKind.Operator && Peek().Value is "-" or "+")
        {
            string op = Next().Value;
            return FiltersAndTests(new UnaryExpr(op, Unary()));
        }
        return FiltersAndTests(Postfix(Primary()));
    }

    private Expr FiltersAndTests(Expr value)
    {
        while (true)
        {
            if (IsOperator("|"))
            {
                _at++;
                string name = Name();
                var (args, keywords) = IsOperator("(") ? Arguments() : ([], []);
                value = new FilterExpr(value, name, args, keywords);
            }
            else if (IsName("is"))
            {
                _at++;
                bool negated = false;
                if (IsName("not")) { _at++; negated = true; }
                string name = Peek().Kind == TokenKind.Name ? Name()
                    : Peek() is { Kind: TokenKind.Operator, Value: "==" or "!=" or "<" or ">" or "<=" or ">=" } op ? Next().Value
                    : throw Unexpected("a test name");
                var args = new List<Expr>();
                if (IsOperator("(")) args.AddRange(Arguments().Positional);
                else if (Peek().Kind is TokenKind.String or TokenKind.Integer or TokenKind.Float || (Peek().Kind == TokenKind.Name && Peek().Value is not ("and" or "or" or "else" or "if")))
                    args.Add(Postfix(Primary()));
                value = new TestExpr(value, name, args, negated);
            }
            else return value;
        }
    }

    private Expr Postfix(Expr value)
    {
        while (true)
        {
            if (IsOperator("."))
            {
                _at++;
                value = Peek().Kind == TokenKind.Integer
                    ? new IndexExpr(value, new LiteralExpr(long.Parse(Next().Value, CultureInfo.InvariantCulture)))
                    : new AttributeExpr(value, Name());
            }
            else if (IsOperator("["))
            {
                _at++;
                value = Subscript(value);
            }
            else if (IsOperator("("))
            {
                var (args, keywords) = Arguments();
                value = new CallExpr(value, args, keywords);
            }
            else return value;
        }
    }

    private Expr Subscript(Expr target)
    {
        Expr? start = null, stop = null, step = null;
        if (!IsOperator(":")) start = Expression();
        if (IsOperator("]"))
        {
            _at++;
            return new IndexExpr(target, start!);
        }
        Expect(":");
        if (!IsOperator(":") && !IsOperator("]")) stop = Expression();
        if (IsOperator(":"))
        {
            _at++;
            if (!IsOperator("]")) step = Expression();
        }
        Expect("]");
        return new SliceExpr(target, start, stop, step);
    }

    private (List<Expr> Positional, List<(string, Expr)> Keywords) Arguments()
    {
        Expect("(");
        var positional = new List<Expr>();
        var keywords = new List<(string, Expr)>();
        while (!IsOperator(")"))
        {
            if (Peek().Kind == TokenKind.Name && Peek(1) is { Kind: TokenKind.Operator, Value: "=" })
            {
                string name = Next().Value;
                _at++;
                keywords.Add((name, Expression()));
            }
            else positional.Add(Expression());
            if (!IsOperator(",")) break;
            _at++;
        }
        Expect(")");
        return (positional, keywords);
    }

    private Expr Primary()
    {
        var token = Next();
        switch (token.Kind)
        {
            case TokenKind.String:
                string text = token.Value;
                while (Peek().Kind == TokenKind.String) text += Next().Value; // adjacent literals join, as in Python
                return new LiteralExpr(text);
            case TokenKind.Integer: return new LiteralExpr(long.Parse(token.Value, CultureInfo.InvariantCulture));
            case TokenKind.Float: return new LiteralExpr(double.Parse(token.Value, CultureInfo.InvariantCulture));
            case TokenKind.Name:
                return token.Value switch
                {
                    "true" or "True" => new LiteralExpr(true),
                    "false" or "False" => new LiteralExpr(false),
                    "none" or "None" => new LiteralExpr(null),
                    _ => new NameExpr(token.Value),
                };
            case TokenKind.Operator when token.Value == "(":
                var first = Expression();
                if (IsOperator(")")) { _at++; return first; }
                var tuple = new List<Expr> { first };
                while (IsOperator(","))
                {
                    _at++;
                    if (IsOperator(")")) break;
                    tuple.Add(Expression());
                }
                Expect(")");
                return new ListExpr(tuple);
            case TokenKind.Operator when token.Value == "[":
                var items = new List<Expr>();
                while (!IsOperator("]"))
                {
                    items.Add(Expression());
                    if (!IsOperator(",")) break;
                    _at++;
                }
                Expect("]");
                return new ListExpr(items);
            case TokenKind.Operator when token.Value == "{":
                var pairs = new List<(Expr, Expr)>();
                while (!IsOperator("}"))
                {
                    var key = Expression();
                    Expect(":");
                    pairs.Add((key, Expression()));
                    if (!IsOperator(",")) break;
                    _at++;
                }
                Expect("}");
                return new DictExpr(pairs);
            default:
                _at--;
                throw Unexpected("a value");
        }
    }
}
