using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http;

namespace AqaStream.Server.Api;

/// <summary>A request body that can say what is wrong with itself once parsed (ranges, consistency).</summary>
public interface IValidatedRequest
{
    /// <summary>Null when valid; otherwise what is wrong, for the caller.</summary>
    string? Problem();
}

/// <summary>
/// Reads a JSON request body strictly, so that no request can store a value its sender did not mean: the content type
/// must be JSON, the body at most <see cref="Delivery.DeliveryOptions.MaxRequestBodyBytes"/>, every required field present,
/// no unknown field (a typo such as <c>"scor"</c> is refused, not read as 0), numbers as JSON numbers (no strings, no
/// NaN), then the body's own checks. Each refusal is a problem-details answer (400, 413 or 415) naming what was wrong.
/// </summary>
public static class JsonBody
{
    /// <summary>The parser's settings: web naming, unknown members refused, required members enforced.</summary>
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        RespectRequiredConstructorParameters = true,
        RespectNullableAnnotations = true,
        NumberHandling = JsonNumberHandling.Strict,
        AllowTrailingCommas = false,
        Converters = { new JsonStringEnumConverter(allowIntegerValues: false) },
    };

    /// <summary>The parsed, validated body, or the error answer.</summary>
    public static async Task<(T? Body, IResult? Error)> ReadAsync<T>(HttpRequest request, long maxBytes, string example, CancellationToken cancellationToken)
        where T : class, IValidatedRequest
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!IsJson(request.ContentType))
        {
            return (null, ApiProblem.Result(StatusCodes.Status415UnsupportedMediaType,
                $"send the body as JSON (Content-Type: application/json; got {(string.IsNullOrEmpty(request.ContentType) ? "none" : $"'{request.ContentType}'")}): {example}"));
        }
        if (request.ContentLength > maxBytes) { return (null, TooLarge(maxBytes)); }
        byte[] bytes;
        try
        {
            bytes = await ReadLimitedAsync(request.Body, maxBytes, cancellationToken).ConfigureAwait(false);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, TooLarge(maxBytes));
        }
        if (bytes.Length > maxBytes) { return (null, TooLarge(maxBytes)); }
        if (bytes.Length == 0) { return (null, ApiProblem.Result(StatusCodes.Status400BadRequest, $"the request has no body: send {example}")); }
        T? body;
        try
        {
            body = JsonSerializer.Deserialize<T>(bytes, Options);
        }
        catch (JsonException e)
        {
            return (null, ApiProblem.Result(StatusCodes.Status400BadRequest, $"{Describe(e)}; send {example}"));
        }
        if (body is null) { return (null, ApiProblem.Result(StatusCodes.Status400BadRequest, $"the body is JSON null: send {example}")); }
        return body.Problem() is { } problem ? (null, ApiProblem.Result(StatusCodes.Status400BadRequest, problem)) : (body, null);
    }

    private static bool IsJson(string? contentType)
    {
        if (string.IsNullOrWhiteSpace(contentType)) { return false; }
        var media = contentType.Split(';', 2)[0].Trim();
        return media.Equals("application/json", StringComparison.OrdinalIgnoreCase) || media.EndsWith("+json", StringComparison.OrdinalIgnoreCase);
    }

    private static IResult TooLarge(long maxBytes) => ApiProblem.Result(StatusCodes.Status413PayloadTooLarge, TooLargeMessage(maxBytes));

    /// <summary>What a 413 says (here and where Kestrel itself refuses the body).</summary>
    public static string TooLargeMessage(long maxBytes) => $"the request body is over {maxBytes} bytes (Delivery:MaxRequestBodyBytes).";

    // Reads at most maxBytes + 1 bytes: enough to know the body is too large without holding all of it.
    private static async Task<byte[]> ReadLimitedAsync(Stream body, long maxBytes, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        while (buffer.Length <= maxBytes)
        {
            var read = await body.ReadAsync(chunk, cancellationToken).ConfigureAwait(false);
            if (read == 0) { break; }
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    // System.Text.Json's messages name the path and the problem; keep them, without the .NET type names.
    private static string Describe(JsonException e)
    {
        var message = e.Message;
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        var reason = cut > 0 ? message[..cut] : message;
        reason = System.Text.RegularExpressions.Regex.Replace(reason, @"'?AqaStream\.[\w.]+'?", "the request", System.Text.RegularExpressions.RegexOptions.CultureInvariant);
        var path = string.IsNullOrEmpty(e.Path) || e.Path == "$" ? "" : $" at {e.Path}";
        return $"malformed request body{path}: {reason.TrimEnd('.')}";
    }
}
