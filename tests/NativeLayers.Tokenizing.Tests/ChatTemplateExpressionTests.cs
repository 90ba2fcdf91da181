using NativeLayers.Tokenizing.Chat;

namespace NativeLayers.Tokenizing.Tests;

/// <summary>
/// The chat-template renderer's expressions, filters, tests, methods and loop variables, each against what Python's
/// Jinja2 (as Hugging Face's apply_chat_template runs it) prints for the same template; and each construct it cannot
/// evaluate refused with a <see cref="ChatTemplateException"/> that says what is wrong.
/// </summary>
public sealed class ChatTemplateExpressionTests
{
    private static readonly Dictionary<string, object?> Variables = new()
    {
        ["text"] = "a\nb\n\nc",
        ["quoted"] = "it's",
        ["n"] = 4,
        ["f"] = 0.5f,
        ["big"] = 1e20,
        ["people"] = new List<object?> { new Dictionary<string, object?> { ["name"] = "Ann", ["role"] = "user" }, new Dictionary<string, object?> { ["name"] = "Bob", ["role"] = "system" }, new Dictionary<string, object?> { ["name"] = "Cy", ["role"] = "user" } },
        ["numbers"] = new[] { 3, 1, 2 },
    };

    private static string Render(string template) => ChatTemplate.FromText(template).Render([], addGenerationPrompt: false, Variables);

    public static TheoryData<string, string> Filters() => new()
    {
        { "{{ '  hi  ' | trim }}", "hi" },
        { "{{ 'abc' | length }}|{{ [1, 2, 3] | count }}|{{ {'a': 1} | length }}|{{ 'h\u00e9' | length }}", "3|3|1|2" },
        { "{{ {'a': [1, 2.5, none, true, 'x\"y']} | tojson }}", "{\"a\": [1, 2.5, null, true, \"x\\\"y\"]}" },
        { "{{ [1, {'b': 2}, [], {}] | tojson(indent=2) }}", "[\n  1,\n  {\n    \"b\": 2\n  },\n  [],\n  {}\n]" },
        { "{{ 'AbC' | upper }}{{ 'AbC' | lower }}", "ABCabc" },
        { "{{ 'hELLO world' | capitalize }}|{{ '' | capitalize }}", "Hello world|" },
        { "{{ \"hello wORLD it's x-ray\" | title }}", "Hello World It's X-Ray" },
        { "{{ [1, 'a', none, true] | string }}", "[1, 'a', None, True]" },
        { "{{ '42' | int }} {{ 3.9 | int }} {{ 'x' | int }} {{ 'x' | int(7) }} {{ true | int }} {{ 5 | int }}", "42 3 0 7 1 5" },
        { "{{ '2.5' | float }} {{ 3 | float }} {{ 'x' | float }} {{ none | float(1.5) }}", "2.5 3.0 0.0 1.5" },
        { "[{{ missing | default('d') }}][{{ '' | default('d') }}][{{ '' | default('d', true) }}][{{ 0 | d('z', boolean=true) }}][{{ 1 | d(2) }}]", "[d][][d][z][1]" },
        { "{{ [3, 4, 5] | first }}{{ [3, 4, 5] | last }}[{{ [] | first }}][{{ [] | last }}]", "35[][]" },
        { "{{ [1, 2, 'a'] | join(', ') }}|{{ people | join('-', attribute='name') }}|{{ 'abc' | join }}", "1, 2, a|Ann-Bob-Cy|abc" },
        { "{{ 'aXbX' | replace('X', '_') }}", "a_b_" },
        { "{{ 'ab' | list }}{{ {'k': 1} | list }}", "['a', 'b']['k']" },
        { "{{ 'abc' | reverse }}{{ [1, 2, 3] | reverse | list }}", "cba[3, 2, 1]" },
        { "{% for k, v in {'a': 1, 'b': 2} | items %}{{ k }}={{ v }};{% endfor %}", "a=1;b=2;" },
        { "{{ [1, 2, 1, 'a', 'a', 1.0] | unique | list }}", "[1, 2, 'a']" },
        { "{{ (-3) | abs }} {{ (-2.5) | abs }}", "3 2.5" },
        { "{{ people | map(attribute='name') | list }}{{ ['a', 'b'] | map('upper') | join }}", "['Ann', 'Bob', 'Cy']AB" },
        { "{{ people | selectattr('role', 'equalto', 'user') | map(attribute='name') | join }}|{{ people | rejectattr('role', 'eq', 'user') | map(attribute='name') | join }}|{{ people | selectattr('name') | length }}|{{ people | rejectattr('age') | length }}", "AnnCy|Bob|3|3" },
        { "{{ text | indent(2) }}|{{ text | indent(2, true) }}|{{ 'x\ny' | indent }}", "a\n  b\n\n  c|  a\n  b\n\n  c|x\n    y" },
        { "{{ numbers | safe }}", "[3, 1, 2]" },
    };

    [Theory]
    [MemberData(nameof(Filters))]
    public void FiltersPrintWhatJinja2Prints(string template, string expected) => Assert.Equal(expected, Render(template));

    public static TheoryData<string, string> Tests() => new()
    {
        { "{{ x is defined }}{{ x is undefined }}{{ n is defined }}{{ x is not defined }}", "FalseTrueTrueTrue" },
        { "{{ none is none }}{{ 'a' is string }}{{ 1 is number }}{{ 1.5 is float }}{{ 1 is integer }}{{ 1.5 is integer }}", "TrueTrueTrueTrueTrueFalse" },
        { "{{ true is boolean }}{{ true is true }}{{ false is false }}{{ 1 is true }}", "TrueTrueTrueFalse" },
        { "{{ {} is mapping }}{{ [] is sequence }}{{ 'ab' is iterable }}{{ 3 is iterable }}{{ range is callable }}{{ 'a' is callable }}", "TrueTrueTrueFalseTrueFalse" },
        { "{{ 4 is even }}{{ 3 is odd }}{{ 9 is divisibleby(3) }}{{ 9 is divisibleby 4 }}{{ 9 is divisibleby(0) }}", "TrueTrueTrueFalseFalse" },
        { "{{ 2 is eq(2) }}{{ 2 is equalto 2.0 }}{{ 2 is ne(3) }}{{ 2 is == 2 }}{{ 2 is != 2 }}", "TrueTrueTrueTrueFalse" },
        { "{{ 1 is lt(2) }}{{ 3 is gt 2 }}{{ 2 is le(2) }}{{ 2 is ge(3) }}{{ 'a' is < 'b' }}{{ 2 is >= 2 }}{{ 1 is lessthan 0 }}{{ 1 is greaterthan 0 }}", "TrueTrueTrueFalseTrueTrueFalseTrue" },
        { "{{ 'a' is in(['a']) }}{{ 'k' is in({'k': 1}) }}{{ 'b' is in('abc') }}{{ 1 is in(2) }}", "TrueTrueTrueFalse" },
        { "{{ 'abc' is lower }}{{ 'aBc' is upper }}{{ 'ABC' is upper }}", "TrueFalseTrue" },
    };

    [Theory]
    [MemberData(nameof(Tests))]
    public void TestsAnswerAsJinja2Does(string template, string expected) => Assert.Equal(expected, Render(template));

    public static TheoryData<string, string> Methods() => new()
    {
        { "[{{ '  x '.strip() }}][{{ 'xxhixx'.strip('x') }}][{{ '  x '.lstrip() }}][{{ 'xxhi'.lstrip('x') }}][{{ ' x  '.rstrip() }}][{{ 'hi!!'.rstrip('!') }}]", "[x][hi][x ][hi][ x][hi]" },
        { "{{ 'hello'.startswith('he') }}{{ 'hello'.startswith(('x', 'hel')) }}{{ 'hello'.endswith('lo') }}{{ 'hello'.endswith('x') }}", "TrueTrueTrueFalse" },
        { "{{ 'aB'.upper() }}{{ 'aB'.lower() }}{{ 'ab cd'.title() }}{{ 'aB'.capitalize() }}{{ 'a-a'.replace('-', '+') }}", "ABabAb CdAba+a" },
        { "{{ 'abcabc'.find('c') }} {{ 'abc'.find('z') }} {{ 'abcabc'.count('bc') }} {{ 'abc'.count('') }} {{ '-'.join(['a', 1]) }}", "2 -1 2 4 a-1" },
        { "{{ ' a  b '.split() }}{{ 'a,b,,c'.split(',') }}{{ 'a,b,c'.split(',', 1) }}{{ 'a b c'.split(none, 1) }}", "['a', 'b']['a', 'b', '', 'c']['a', 'b,c']['a', 'b c']" },
        { "{% set d = {'a': 1, 'b': 2} %}{{ d.keys() | list }}{{ d.values() | list }}{{ d.get('a') }}{{ d.get('z', 9) }}{{ d.get('z') }}{% for k, v in d.items() %}{{ k }}{{ v }}{% endfor %}", "['a', 'b'][1, 2]19Nonea1b2" },
        { "{% set d = {'items': 5, 'x': 1} %}{{ d['items'] }}{{ d.x }}{{ d['x'] }}[{{ d.y }}][{{ d['y'] }}]", "511[][]" },
    };

    [Theory]
    [MemberData(nameof(Methods))]
    public void StringAndDictMethodsBehaveAsPythons(string template, string expected) => Assert.Equal(expected, Render(template));

    public static TheoryData<string, string> Operators() => new()
    {
        { "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 4 / 2 }} {{ 2 ** 10 }} {{ 2 ** -1 }}", "3 -4 1 2 3.5 2.0 1024 0.5" },
        { "{{ 7.5 // 2 }} {{ 7.5 % 2 }} {{ 1 + 2.5 }} {{ 3 - 5 }} {{ 2 * 3 }} {{ 2.0 ** 2 }} {{ true + 1 }} {{ n * f }}", "3.0 1.5 3.5 -2 6 4.0 2 2.0" },
        { "{{ 'a' ~ 1 ~ none ~ missing }}|{{ 'ab' * 3 }}|{{ 'ab' * -1 }}|{{ [1] + [2] }}|{{ 'a' + 'b' }}", "a1None|ababab||[1, 2]|ab" },
        { "{{ 1 < 2 }}{{ 'b' > 'a' }}{{ 2 <= 2 }}{{ 3 >= 4 }}{{ 1 == 1.0 }}{{ 'a' != 'b' }}{{ none == none }}{{ x == x }}{{ [1, 'a'] == [1, 'a'] }}{{ {'a': 1} == {'a': 1} }}{{ [1] == [2] }}", "TrueTrueTrueFalseTrueTrueTrueTrueTrueTrueFalse" },
        { "{{ 'a' in ['a'] }}{{ 'z' not in 'abc' }}{{ 'k' in {'k': 1} }}{{ 1 in {'k': 1} }}", "TrueTrueTrueFalse" },
        { "[{{ 0 or 'x' }}][{{ 1 and 'y' }}][{{ '' and 'y' }}][{{ not 0 }}][{{ not [1] }}][{{ 'a' if 0 else 'b' }}][{{ 'a' if 0 }}][{{ -(2.5) }}][{{ +3 }}]", "[x][y][][True][False][b][][-2.5][3]" },
        { "{{ [1, 2, 3, 4, 5][1:3] }}{{ [1, 2, 3, 4, 5][::-1] }}{{ [1, 2, 3, 4, 5][-2:] }}{{ [1, 2, 3, 4, 5][4:1:-2] }}{{ [1, 2, 3][:-1] }}{{ [1, 2, 3][none:2] }}", "[2, 3][5, 4, 3, 2, 1][4, 5][5, 3][1, 2][1, 2]" },
        { "{{ 'hello'[::2] }} {{ 'hello'[-1] }} {{ 'hello'[1] }} [{{ 'hello'[9] }}] [{{ [1, 2, 3][5] }}] {{ [1, 2, 3][-1] }} {{ [1, 2, 3].0 }}", "hlo o e [] [] 3 1" },
        { "{{ [quoted, 'a\\'b', 'x\"y\\'z', 'tab\\there'] }}|{{ {'k': [1.5, none]} }}|{{ big }}|{{ 0.1 }}|{{ 1.0 }}", "[\"it's\", \"a'b\", 'x\"y\\'z', 'tab\\there']|{'k': [1.5, None]}|1e+20|0.1|1.0" },
        { "{{ n + 1 }} {{ f }} {{ numbers }} {{ dict(a=1, b='x') }} {{ namespace(a=1).a }}", "5 0.5 [3, 1, 2] {'a': 1, 'b': 'x'} 1" },
    };

    [Theory]
    [MemberData(nameof(Operators))]
    public void OperatorsSlicesAndLiteralsFollowPython(string template, string expected) => Assert.Equal(expected, Render(template));

    public static TheoryData<string, string> Statements() => new()
    {
        { "{% for x in [1, 2, 3] %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}|{% endfor %}", "1032TrueFalse3|2121FalseFalse3|3210FalseTrue3|" },
        { "{% for x in 'abc' %}{{ loop.previtem }}{{ x }}{{ loop.nextitem }},{% endfor %}", "ab,abc,bc," },
        { "{% for x in range(4) %}{{ loop.cycle('a', 'b', 'c') }}{% endfor %}{% for x in [1] %}[{{ loop.cycle() }}]{% endfor %}", "abca[None]" },
        { "{% for x in [] %}x{% else %}empty{% endfor %}{% for x in range(3) if x > 5 %}x{% else %}none{% endfor %}", "emptynone" },
        { "{% for x in range(10) if x is odd %}{{ x }}{% endfor %}", "13579" },
        { "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}", "0134" },
        { "{{ range(2, 8, 3) }}{{ range(5, 0, -2) }}{{ range(0) }}", "[2, 5][5, 3, 1][]" },
        { "{% set x = 1 %}{% for i in [1] %}{% set x = 2 %}{{ x }}{% endfor %}{{ x }}{% if true %}{% set x = 3 %}{% endif %}{{ x }}", "213" },
        { "{% set ns = namespace(x=1, seen=false) %}{% for i in [1, 2] %}{% set ns.x = ns.x + i %}{% endfor %}{{ ns.x }}{{ ns.seen }}", "4False" },
        { "{% set b %}hi {{ 1 + 1 }}{% endset %}[{{ b }}]", "[hi 2]" },
        { "{% if 0 %}a{% elif '' %}b{% elif [1] %}c{% else %}d{% endif %}{% if none %}x{% else %}y{% endif %}", "cy" },
        { "{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }}{% endfor %}{% for k in {'p': 1, 'q': 2} %}{{ k }}{% endfor %}", "37pq" },
        { "{# a comment #}a  {%- if true %}  b  {%- endif -%}  c", "a  bc" },
    };

    [Theory]
    [MemberData(nameof(Statements))]
    public void LoopsScopesAndBranchesBehaveAsJinja2(string template, string expected) => Assert.Equal(expected, Render(template));

    public static TheoryData<string, string> Refused() => new()
    {
        { "{{ 'a' | nosuch }}", "the filter 'nosuch' is not supported" },
        { "{{ x is nosuch }}", "the test 'nosuch' is not supported" },
        { "{{ 'a'.format(1) }}", "the string method 'format' is not supported" },
        { "{{ numbers.append(2) }}", "lists cannot be changed in a chat template (append)" },
        { "{{ 1 // 0 }}", "integer division by zero." },
        { "{{ 1 % 0 }}", "integer division by zero." },
        { "{{ [1][::0] }}", "a slice step cannot be zero." },
        { "{{ range(1, 2, 0) }}", "range step cannot be zero." },
        { "{{ range() }}", "range takes 1 to 3 integers." },
        { "{{ 1 < 'a' }}", "cannot order an integer and a string." },
        { "{{ 'a' - 1 }}", "unsupported operand types for -: a string and an integer." },
        { "{{ -'a' }}", "cannot negate a string." },
        { "{{ nothing.x }}", "'nothing' is undefined, so it has no attribute 'x'." },
        { "{{ nothing[0] }}", "'nothing' is undefined, so it cannot be indexed." },
        { "{{ 1 in 'abc' }}", "'in <string>' needs a string, got an integer." },
        { "{{ 1 in 5 }}", "cannot look inside an integer." },
        { "{{ 'a' in nothing }}", "'nothing' is undefined, so nothing is in it." },
        { "{{ nofunc() }}", "'nofunc' is undefined (not a function this renderer knows)." },
        { "{{ n() }}", "an integer cannot be called." },
        { "{% for a, b in {'x': 1} %}{% endfor %}", "iterate a dict's pairs with .items()." },
        { "{% for a, b in [1] %}{% endfor %}", "cannot unpack an integer into 2 names." },
        { "{% for a, b in [[1, 2, 3]] %}{% endfor %}", "cannot unpack 3 values into 2 names." },
        { "{% set x = 1 %}{% set x.y = 2 %}", "cannot set 'x.y': 'x' is not a namespace()." },
        { "{{ n | list }}", "an integer cannot be iterated." },
        { "{{ n | length }}", "an integer has no length." },
        { "{{ n | upper }}", "upper needs a string, got an integer." },
        { "{{ nothing | upper }}", "'nothing' is undefined (upper needs a string)." },
        { "{{ n | items }}", "items() needs a dict, got an integer." },
        { "{{ numbers | map }}", "map needs attribute=NAME or a filter name." },
        { "{{ 'a' | abs }}", "a string is not a number." },
        { "{{ raise_exception('no system role here') }}", "no system role here" },
        { "{{ {1: 2} }}", "dict keys must be strings." },
        { "{{ numbers[1:'a'] }}", "slice bounds must be integers, got a string." },
        { "{{ n[0] }}", "cannot index an integer with an integer." },
        { "{{ n[1:2] }}", "cannot slice an integer." },
        { "{{ range | tojson }}", "a function cannot be written as JSON." },
        { "{{ [1] < [2] }}", "cannot order a list and a list." },
        { "{{ none + 1 }}", "unsupported operand types for +: None and an integer." },
        { "{% for x in numbers recursive %}{% endfor %}", "recursive for loops are not supported." },
        { "{% macro m() %}{% endmacro %}", "the '{% macro %}' statement is not supported" },
        { "{% if true %}x", "an '{% if %}' is not closed with '{% endif %}'." },
        { "{% if true %}x{% else %}y{% endfor %}", "'{% else %}' of an if is not closed with '{% endif %}'." },
        { "{% for x in numbers %}x", "a '{% for %}' is not closed with '{% endfor %}'." },
        { "{% set x %}x", "a '{% set %}' block is not closed with '{% endset %}'." },
        { "{% set a, b = 1, 2 %}", "setting several names at once is not supported." },
        { "{% endif %}", "'{% endif %}' has no matching opening tag." },
        { "{% generation %}x", "'{% generation %}' is not closed with '{% endgeneration %}'." },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void WhatCannotBeEvaluatedIsRefusedSayingWhy(string template, string problem)
    {
        var error = Assert.Throws<ChatTemplateException>(() => Render(template));
        Assert.Contains(problem, error.Message);
    }

    [Fact]
    public void HostValuesOfOtherTypesCannotBePassed()
    {
        var template = ChatTemplate.FromText("{{ v }}");
        var error = Assert.Throws<ChatTemplateException>(() => template.Render([], false, new Dictionary<string, object?> { ["v"] = Guid.Empty }));
        Assert.Contains("a Guid cannot be passed to a chat template", error.Message);
    }
}
