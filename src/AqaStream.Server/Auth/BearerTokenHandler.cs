using System.Text.Encodings.Web;
using System.Text.Json;
using AqaStream.Server.Delivery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AqaStream.Server.Auth;

/// <summary>
/// The server's authentication scheme: a bearer token from the <c>Authorization</c> header, or from the
/// <c>access_token</c> query parameter on the hub (browsers cannot set headers on WebSockets). Without a token the
/// request is anonymous, or the <c>public</c> role where <see cref="AuthOptions.AnonymousResults"/> is on. A bad or
/// expired token is refused (401) with the reason, never downgraded to anonymous.
/// </summary>
public sealed class BearerTokenHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder,
    TokenService tokens, IOptions<AuthOptions> auth) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    /// <summary>The scheme name.</summary>
    public const string SchemeName = "AqaBearer";

    private const string FailureKey = "aqa.auth.failure";

    /// <inheritdoc/>
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (header.Length > 0 && !header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            // Any other scheme (Basic, a bare key, ...) is a token we cannot use: refused, never read as anonymous.
            var scheme = header.Split(' ', 2)[0];
            var wrongScheme = $"the Authorization header must be 'Bearer TOKEN' (got the '{(scheme.Length > 20 ? scheme[..20] + "…" : scheme)}' scheme).";
            Context.Items[FailureKey] = wrongScheme;
            return AuthenticateResult.Fail(wrongScheme);
        }
        var token = TokenOf(Request);
        if (token is null)
        {
            return auth.Value.AnonymousResults
                ? AuthenticateResult.Success(new AuthenticationTicket(TokenService.Principal("anonymous", AqaRoles.Public), SchemeName))
                : AuthenticateResult.NoResult();
        }
        var (principal, error) = await tokens.ValidateAsync(token).ConfigureAwait(false);
        if (principal is null)
        {
            Context.Items[FailureKey] = error;
            return AuthenticateResult.Fail(error ?? "invalid token");
        }
        return AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName));
    }

    /// <inheritdoc/>
    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var reason = Context.Items[FailureKey] as string;
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = reason is null ? "Bearer" : $"Bearer error=\"invalid_token\", error_description=\"{reason.Replace('"', '\'')}\"";
        await WriteError(Response, reason ?? "a bearer token is required (Authorization: Bearer TOKEN).").ConfigureAwait(false);
    }

    /// <inheritdoc/>
    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status403Forbidden;
        await WriteError(Response, $"the role '{RoleOf(Context.User)}' may not do this.").ConfigureAwait(false);
    }

    /// <summary>The token a request presents, or null.</summary>
    public static string? TokenOf(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var header = request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) { return header["Bearer ".Length..].Trim(); }
        if (request.Path.StartsWithSegments(AqaEndpoints.HubPath) && request.Query["access_token"].ToString() is { Length: > 0 } query) { return query; }
        return null;
    }

    /// <summary>The principal's role name.</summary>
    public static string RoleOf(System.Security.Claims.ClaimsPrincipal user) =>
        user?.FindFirst("role")?.Value ?? "anonymous";

    /// <summary>The principal's <see cref="ViewerRole"/>.</summary>
    public static ViewerRole ViewerOf(System.Security.Claims.ClaimsPrincipal user) => RoleOf(user) switch
    {
        AqaRoles.Operator => ViewerRole.Operator,
        AqaRoles.Judge => ViewerRole.Judge,
        AqaRoles.Overlay => ViewerRole.Overlay,
        _ => ViewerRole.Public,
    };

    private static Task WriteError(HttpResponse response, string error) =>
        Api.ApiProblem.WriteAsync(response.HttpContext, response.StatusCode, error);
}
