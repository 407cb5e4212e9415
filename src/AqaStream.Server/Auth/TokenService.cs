using System.Security.Claims;
using System.Text;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace AqaStream.Server.Auth;

/// <summary>Issues bearer tokens (JWTs, HMAC-SHA256) and holds what <see cref="AqaAuthentication"/>'s JwtBearer scheme
/// checks them against: the API keys, the validation parameters, the host clock's lifetime rule and the roles.</summary>
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

    /// <summary>The principal of a configured API key, or null.</summary>
    public ClaimsPrincipal? ApiKey(string token) =>
        _options.ApiKeys.TryGetValue(token, out var role) ? Principal($"api-key:{Mask(token)}", role) : null;

    /// <summary>Whether <paramref name="token"/> is a JWT this server could check (a signing key is set and it parses).</summary>
    public bool CanCheck(string token) => _key is not null && _handler.CanReadToken(token);

    /// <summary>What JwtBearer checks: signature (HMAC-SHA256 with the signing key), issuer and audience. Lifetime is
    /// checked by <see cref="Admit"/> against the host's TimeProvider (one clock for the whole host, testable).</summary>
    public TokenValidationParameters ValidationParameters() => new()
    {
        ValidIssuer = _options.Issuer,
        ValidAudience = _options.Audience,
        IssuerSigningKey = _key,
        ValidateLifetime = false,
        RoleClaimType = "role",
        NameClaimType = "sub",
    };

    /// <summary>Why a JWT failed JwtBearer's validation, in words for the caller.</summary>
    public static string Describe(Exception? failure) => failure switch
    {
        SecurityTokenExpiredException => "the token has expired: ask for a new one.",
        SecurityTokenInvalidSignatureException or SecurityTokenSignatureKeyNotFoundException => "the token's signature does not match this server's key.",
        SecurityTokenInvalidAudienceException or SecurityTokenInvalidIssuerException => "the token was issued for another server (issuer or audience).",
        SecurityTokenMalformedException => "the token is neither a configured API key nor a JWT this server can check.",
        _ => "the token is not valid.",
    };

    /// <summary>After a JWT's signature, issuer and audience passed: its lifetime on this host's clock (with
    /// <see cref="ClockSkew"/>) and its role. The principal to use, or why the token is refused.</summary>
    public (ClaimsPrincipal? Principal, string? Error) Admit(SecurityToken presented, ClaimsPrincipal? validated)
    {
        ArgumentNullException.ThrowIfNull(presented);
        var now = _clock.GetUtcNow().UtcDateTime;
        if (presented.ValidTo != DateTime.MinValue && now > presented.ValidTo + ClockSkew) { return (null, "the token has expired: ask for a new one."); }
        if (presented.ValidFrom != DateTime.MinValue && now < presented.ValidFrom - ClockSkew) { return (null, "the token is not valid yet (its issuer's clock is ahead of this server's)."); }
        var role = validated?.FindFirst("role")?.Value;
        if (role is null || !AqaRoles.Assignable.Contains(role)) { return (null, $"the token's role '{role}' is not one of {string.Join(", ", AqaRoles.Assignable)}."); }
        return (Principal(validated!.FindFirst("sub")?.Value ?? "unknown", role), null);
    }

    /// <summary>A principal with one role.</summary>
    public static ClaimsPrincipal Principal(string subject, string role) =>
        new(new ClaimsIdentity([new Claim("sub", subject), new Claim("role", role)], AqaAuthentication.SchemeName, "sub", "role"));

    private static string Mask(string key) => key.Length <= 4 ? "****" : key[..4] + "…";
}
