using System.Text.Json;

namespace NativeLayers.Loading.Tests;

public sealed class JsonLinesTests : IDisposable
{
    private readonly TempDir _temp = new();

    public void Dispose() => _temp.Dispose();

    private static string? Text(JsonElement e) => e.ValueKind == JsonValueKind.Object && e.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;

    [Fact]
    public void ReadsNonBlankLinesAndNamesTheBadLine()
    {
        string path = _temp.File("a.jsonl");
        File.WriteAllText(path, "{\"text\": \"one\"}\n\n{\"text\": \"two\"}\n");
        Assert.Equal(["one", "two"], JsonLines.Read(path, "prompt", "{\"text\": ...}", Text));

        File.WriteAllText(path, "{\"text\": \"one\"}\n{\"txt\": 1}\n");
        var wrongShape = Assert.Throws<ModelFileException>(() => JsonLines.Read(path, "prompt", "{\"text\": ...}", Text));
        Assert.Equal($"{path}: line 2: expected {{\"text\": ...}}.", wrongShape.Message);

        File.WriteAllText(path, "{\"text\": \"one\"}\n{not json\n");
        Assert.Contains("line 2 is not valid JSON", Assert.Throws<ModelFileException>(() => JsonLines.Read(path, "prompt", "x", Text)).Message);
        Assert.Contains("prompt file not found", Assert.Throws<ModelFileException>(() => JsonLines.Read(_temp.File("none.jsonl"), "prompt", "x", Text)).Message);
    }
}
