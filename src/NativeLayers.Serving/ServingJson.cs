using System.Text.Encodings.Web;
using System.Text.Json;

namespace NativeLayers.Serving;

/// <summary>How responses are written: text as it is (quotes and non-ASCII unescaped where JSON allows), as OpenAI writes it.</summary>
internal static class ServingJson
{
    public static readonly JsonSerializerOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
