using System.Security.Claims;
using AqaStream.Server.Delivery;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace AqaStream.Server.Auth;

/// <summary>
/// The server's authentication: ASP.NET Core's JwtBearer scheme, configured for this product. A bearer token comes
/// from the <c>Authorization</c> header, or from the <c>access_token</c> query parameter on the hub (browsers cannot
/// set headers on WebSockets). It is a configured API key or a JWT that <see cref="TokenService"/> issued; without a
/// token the request is anonymous, or the <c>public</c> role where <see cref="AuthOptions.AnonymousResults"/> is on.
/// A bad or expired token, or an <c>Authorization</c> header of another scheme, is refused (401) with the reason in a
/// JSON body and in <c>WWW-Authenticate</c>, never downgraded to anonymous; a role that may not do something gets 403.
/// </summary>
public static class AqaAuthentication
{
    /// <summary>The scheme name (JwtBearer's default, "Bearer").</summary>
    public const string SchemeName = JwtBearerDefaults.AuthenticationScheme;

    private const string FailureKey = "aqa.auth.failure";

    /// <summary>Adds the scheme; <see cref="TokenService"/>, <see cref="AuthOptions"/> and a <see cref="TimeProvider"/>
    /// come from the container.</summary>
    public static IServiceCollection AddAqaAuthentication(this IServiceCollection services)
    {
        services.AddAuthentication(SchemeName).AddJwtBearer();
        services.AddOptions<JwtBearerOptions>(SchemeName).Configure<TokenService, IOptions<AuthOptions>, TimeProvider>((o, tokens, auth, clock) =>
        {
            o.MapInboundClaims = false;
            o.TimeProvider = clock;
            o.TokenValidationParameters = tokens.ValidationParameters();
            o.Events = new JwtBearerEvents
            {
                OnMessageReceived = context => Received(context, tokens, auth.Value),
                OnAuthenticationFailed = context =>
                {
                    Refuse(context.HttpContext, TokenService.Describe(context.Exception));
                    context.Fail(context.Exception);
                    return Task.CompletedTask;
                },
                OnTokenValidated = context =>
                {
                    var (principal, error) = tokens.Admit(context.SecurityToken, context.Principal);
                    if (principal is null) { context.Fail(Refuse(context.HttpContext, error!)); }
                    else { context.Principal = principal; }
                    return Task.CompletedTask;
                },
                OnChallenge = async context =>
                {
                    context.HandleResponse();
                    var reason = context.HttpContext.Items[FailureKey] as string;
                    context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                    context.Response.Headers.WWWAuthenticate = reason is null ? "Bearer" : $"Bearer error=\"invalid_token\", error_description=\"{reason.Replace('"', '\'')}\"";
                    await Api.ApiProblem.WriteAsync(context.HttpContext, StatusCodes.Status401Unauthorized, reason ?? "a bearer token is required (Authorization: Bearer TOKEN).").ConfigureAwait(false);
                },
                OnForbidden = context =>
                {
                    context.Response.StatusCode = StatusCodes.Status403Forbidden;
                    return Api.ApiProblem.WriteAsync(context.HttpContext, StatusCodes.Status403Forbidden, $"the role '{RoleOf(context.HttpContext.User)}' may not do this.");
                },
            };
        });
        return services;
    }

    private static Task Received(MessageReceivedContext context, TokenService tokens, AuthOptions auth)
    {
        var request = context.Request;
        var header = request.Headers.Authorization.ToString();
        if (header.Length > 0 && !header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            // Any other scheme (Basic, a bare key, ...) is a token we cannot use: refused, never read as anonymous.
            var scheme = header.Split(' ', 2)[0];
            context.Fail(Refuse(context.HttpContext, $"the Authorization header must be 'Bearer TOKEN' (got the '{(scheme.Length > 20 ? scheme[..20] + "…" : scheme)}' scheme)."));
            return Task.CompletedTask;
        }
        var token = header.Length > 0 ? header["Bearer ".Length..].Trim()
            : request.Path.StartsWithSegments(AqaEndpoints.HubPath) && request.Query["access_token"].ToString() is { Length: > 0 } query ? query : null;
        if (token is null)
        {
            if (auth.AnonymousResults) { Admit(context, TokenService.Principal("anonymous", AqaRoles.Public)); }
            return Task.CompletedTask;   // no result: anonymous, and a policy that needs a role challenges
        }
        if (tokens.ApiKey(token) is { } keyHolder) { Admit(context, keyHolder); return Task.CompletedTask; }
        if (!tokens.CanCheck(token))
        {
            context.Fail(Refuse(context.HttpContext, "the token is neither a configured API key nor a JWT this server can check."));
            return Task.CompletedTask;
        }
        context.Token = token;   // JwtBearer validates it (signature, issuer, audience), then OnTokenValidated
        return Task.CompletedTask;
    }

    private static void Admit(MessageReceivedContext context, ClaimsPrincipal principal)
    {
        context.Principal = principal;
        context.Success();
    }

    private static string Refuse(HttpContext context, string reason)
    {
        context.Items[FailureKey] = reason;
        return reason;
    }

    /// <summary>The principal's role name ("anonymous" without one).</summary>
    public static string RoleOf(ClaimsPrincipal user) =>
        user?.FindFirst("role")?.Value ?? "anonymous";

    /// <summary>The principal's <see cref="ViewerRole"/>.</summary>
    public static ViewerRole ViewerOf(ClaimsPrincipal user) => RoleOf(user) switch
    {
        AqaRoles.Operator => ViewerRole.Operator,
        AqaRoles.Judge => ViewerRole.Judge,
        AqaRoles.Overlay => ViewerRole.Overlay,
        _ => ViewerRole.Public,
    };
}
