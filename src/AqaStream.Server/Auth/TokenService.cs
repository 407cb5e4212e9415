using System.Security.Claims;
using System.Text;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace AqaStream.Server.Auth;

/// <summary>Issues and checks bearer tokens: JWTs (HMAC-SHA256, validated by Microsoft.IdentityModel) and API keys.</summary>
public sealed class TokenService
{
    private readonly AuthOptions _options;
    private readonly SymmetricSecurityKey? _key;
    private readonly JsonWebTokenHandler _handler = new() { MapInboundClaims = false };
    private readonly TimeProvider _clock;

    /// <summary>Allowed difference between this server's clock and the issuer's.</summary>
    public static readonly TimeSpan ClockSkew = TimeSpan.FromSeconds(30);

    /// <summary>Creates it from the configured options; issuing and expiry follow <paramref name="clock"/>.</summary>
    public TokenService(IOptions<AuthOptions> options, TimeProvider clock)
    {
        ArgumentNullException.ThrowIfNull(options);
        _clock = clock ?? throw new ArgumentNullException(nameof(clock));
        _options = options.Value;
        foreach (var (key, role) in _options.ApiKeys)
        {
            if (!AqaRoles.Assignable.Contains(role))
            {
                throw new InvalidOperationException($"API key '{Mask(key)}' has role '{role}': use one of {string.Join(", ", AqaRoles.Assignable)}.");
            }
        }
        if (_options.SigningKey is { } signingKey)
        {
            var bytes = Encoding.UTF8.GetBytes(signingKey);
            if (bytes.Length < AuthOptions.MinimumSigningKeyBytes)
            {
                throw new InvalidOperationException($"Auth:SigningKey is {bytes.Length} bytes; HMAC-SHA256 needs at least {AuthOptions.MinimumSigningKeyBytes}.");
            }
            _key = new SymmetricSecurityKey(bytes);
        }
    }

    /// <summary>A JWT for <paramref name="subject"/> with <paramref name="role"/>, valid for <paramref name="lifetime"/>.</summary>
    public string Issue(string subject, string role, TimeSpan lifetime, DateTime? now = null)
    {
        if (_key is null) { throw new InvalidOperationException("Auth:SigningKey is not set: no JWT can be issued."); }
        if (!AqaRoles.Assignable.Contains(role)) { throw new ArgumentException($"Unknown role '{role}': use one of {string.Join(", ", AqaRoles.Assignable)}."); }
        var issuedAt = now ?? _clock.GetUtcNow().UtcDateTime;
        return _handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = _options.Issuer,
            Audience = _options.Audience,
            IssuedAt = issuedAt,
            NotBefore = issuedAt,
            Expires = issuedAt + lifetime,
            Claims = new Dictionary<string, object> { ["sub"] = subject, ["role"] = role },
            SigningCredentials = new SigningCredentials(_key, SecurityAlgorithms.HmacSha256),
        });
    }

    /// <summary>Checks a presented token: the principal, or why it is refused.</summary>
    public async Task<(ClaimsPrincipal? Principal, string? Error)> ValidateAsync(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        if (_options.ApiKeys.TryGetValue(token, out var keyRole))
        {
            return (Principal($"api-key:{Mask(token)}", keyRole), null);
        }
        if (_key is null || !_handler.CanReadToken(token))
        {
            return (null, "the token is neither a configured API key nor a JWT this server can check.");
        }
        var result = await _handler.ValidateTokenAsync(token, new TokenValidationParameters
        {
            ValidIssuer = _options.Issuer,
            ValidAudience = _options.Audience,
            IssuerSigningKey = _key,
            // Lifetime is checked below against the server's TimeProvider (testable, and one clock for the whole host).
            ValidateLifetime = false,
            RoleClaimType = "role",
            NameClaimType = "sub",
        }).ConfigureAwait(false);
        if (!result.IsValid)
        {
            return (null, result.Exception switch
            {
                SecurityTokenExpiredException => "the token has expired: ask for a new one.",
                SecurityTokenInvalidSignatureException => "the token's signature does not match this server's key.",
                SecurityTokenInvalidAudienceException or SecurityTokenInvalidIssuerException => "the token was issued for another server (issuer or audience).",
                _ => "the token is not valid.",
            });
        }
        var now = _clock.GetUtcNow().UtcDateTime;
        var presented = result.SecurityToken;
        if (presented.ValidTo != DateTime.MinValue && now > presented.ValidTo + ClockSkew) { return (null, "the token has expired: ask for a new one."); }
        if (presented.ValidFrom != DateTime.MinValue && now < presented.ValidFrom - ClockSkew) { return (null, "the token is not valid yet (its issuer's clock is ahead of this server's)."); }
        var role = result.Claims.TryGetValue("role", out var r) ? r as string : null;
        if (role is null || !AqaRoles.Assignable.Contains(role)) { return (null, $"the token's role '{role}' is not one of {string.Join(", ", AqaRoles.Assignable)}."); }
        var subject = result.Claims.TryGetValue("sub", out var s) ? s as string ?? "unknown" : "unknown";
        return (Principal(subject, role), null);
    }

    /// <summary>A principal with one role.</summary>
    public static ClaimsPrincipal Principal(string subject, string role) =>
        new(new ClaimsIdentity([new Claim("sub", subject), new Claim("role", role)], BearerTokenHandler.SchemeName, "sub", "role"));

    private static string Mask(string key) => key.Length <= 4 ? "****" : key[..4] + "…";
}
