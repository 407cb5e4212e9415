using Microsoft.AspNetCore.Http;

namespace AqaStream.Server.Api;

/// <summary>
/// Every error the API answers: an RFC 9457 problem-details body (<c>application/problem+json</c>: type, title,
/// status, detail) that also carries <c>error</c> (the same text as <c>detail</c>, the field integrators already read).
/// </summary>
public static class ApiProblem
{
    /// <summary>The problem for <paramref name="status"/> with <paramref name="detail"/> saying what was wrong.</summary>
    public static IResult Result(int status, string detail) =>
        Results.Problem(detail: detail, statusCode: status, title: Title(status), extensions: new Dictionary<string, object?> { ["error"] = detail });

    /// <summary>Writes the problem directly (middleware and authentication, where no endpoint result runs).</summary>
    public static Task WriteAsync(HttpContext context, int status, string detail)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Response.StatusCode = status;
        return Result(status, detail).ExecuteAsync(context);
    }

    /// <summary>Short title per status.</summary>
    public static string Title(int status) => status switch
    {
        StatusCodes.Status400BadRequest => "Bad request",
        StatusCodes.Status401Unauthorized => "Unauthorized",
        StatusCodes.Status403Forbidden => "Forbidden",
        StatusCodes.Status404NotFound => "Not found",
        StatusCodes.Status405MethodNotAllowed => "Method not allowed",
        StatusCodes.Status409Conflict => "Conflict",
        StatusCodes.Status413PayloadTooLarge => "Request body too large",
        StatusCodes.Status415UnsupportedMediaType => "Unsupported media type",
        >= 500 => "Server error",
        _ => "Request failed",
    };
}
