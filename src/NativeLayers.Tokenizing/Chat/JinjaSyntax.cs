namespace NativeLayers.Tokenizing.Chat;

/// <summary>A piece of a template: text, an output, or a statement with its body.</summary>
internal abstract record Node;
internal sealed record TextNode(string Text) : Node;
internal sealed record OutputNode(Expr Value) : Node;
internal sealed record IfNode(IReadOnlyList<(Expr Condition, IReadOnlyList<Node> Body)> Branches, IReadOnlyList<Node>? Else) : Node;
internal sealed record ForNode(IReadOnlyList<string> Targets, Expr Items, Expr? Filter, IReadOnlyList<Node> Body, IReadOnlyList<Node>? Else) : Node;
/// <summary>{% set name = value %} or {% set ns.attribute = value %}.</summary>
internal sealed record SetNode(string Name, string? Attribute, Expr Value) : Node;
/// <summary>{% set name %}...{% endset %}</summary>
internal sealed record SetBlockNode(string Name, IReadOnlyList<Node> Body) : Node;
internal sealed record BreakNode : Node;
internal sealed record ContinueNode : Node;

/// <summary>An expression inside a tag.</summary>
internal abstract record Expr;
internal sealed record LiteralExpr(object? Value) : Expr;
internal sealed record NameExpr(string Name) : Expr;
internal sealed record AttributeExpr(Expr Target, string Name) : Expr;
internal sealed record IndexExpr(Expr Target, Expr Index) : Expr;
internal sealed record SliceExpr(Expr Target, Expr? Start, Expr? Stop, Expr? Step) : Expr;
internal sealed record CallExpr(Expr Target, IReadOnlyList<Expr> Arguments, IReadOnlyList<(string Name, Expr Value)> Keywords) : Expr;
internal sealed record FilterExpr(Expr Value, string Name, IReadOnlyList<Expr> Arguments, IReadOnlyList<(string Name, Expr Value)> Keywords) : Expr;
internal sealed record TestExpr(Expr Value, string Name, IReadOnlyList<Expr> Arguments, bool Negated) : Expr;
internal sealed record UnaryExpr(string Operator, Expr Operand) : Expr;
internal sealed record BinaryExpr(string Operator, Expr Left, Expr Right) : Expr;
internal sealed record ConditionalExpr(Expr Condition, Expr Then, Expr? Else) : Expr;
internal sealed record ListExpr(IReadOnlyList<Expr> Items) : Expr;
internal sealed record DictExpr(IReadOnlyList<(Expr Key, Expr Value)> Items) : Expr;
