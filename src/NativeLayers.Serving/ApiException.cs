using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace NativeLayers.Serving;

/// <summary>A request the server refuses, answered as OpenAI answers: {"error": {"message", "type", "param", "code"}}.</summary>
public sealed class ApiException(int status, string message, string? param = null, string? code = null, string type = "invalid_request_error")
    : Exception(message)
{
    public int Status { get; } = status;
    public string? Param { get; } = param;
    public string? Code { get; } = code;
    public string Type { get; } = type;

    public static ApiException BadRequest(string message, string? param = null) => new(StatusCodes.Status400BadRequest, message, param);

    public static byte[] Body(string message, string type, string? param, string? code) => JsonSerializer.SerializeToUtf8Bytes(new
    {
        error = new { message, type, param, code },
    }, ServingJson.Options);

    public byte[] Body() => Body(Message, Type, Param, Code);
}
