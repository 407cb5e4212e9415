namespace AqaStream.Server.Auth;

/// <summary>Who may see and do what (configuration section <c>Auth</c>). Bearer tokens are either JWTs signed with
/// <see cref="SigningKey"/> (HMAC-SHA256, a <c>role</c> claim) or API keys listed in <see cref="ApiKeys"/>.</summary>
public sealed record AuthOptions
{
    /// <summary>Configuration section.</summary>
    public const string Section = "Auth";

    /// <summary>Shortest signing key accepted (HMAC-SHA256 wants at least 256 bits).</summary>
    public const int MinimumSigningKeyBytes = 32;

    /// <summary>The JWT signing key (UTF-8, at least <see cref="MinimumSigningKeyBytes"/> bytes); null: JWTs are refused.</summary>
    public string? SigningKey { get; init; }

    /// <summary>Expected <c>iss</c>.</summary>
    public string Issuer { get; init; } = "aqastream";

    /// <summary>Expected <c>aud</c>.</summary>
    public string Audience { get; init; } = "aqastream";

    /// <summary>API keys: key → role (overlay, judge, operator).</summary>
    public Dictionary<string, string> ApiKeys { get; init; } = [];

    /// <summary>Read-only public results (the performance list, snapshots without judge details, the hub for
    /// overlays) need no token. On in the demo, off by default.</summary>
    public bool AnonymousResults { get; init; }
}

/// <summary>The three roles and the policies built on them.</summary>
public static class AqaRoles
{
    /// <summary>Broadcast overlays: public results.</summary>
    public const string Overlay = "overlay";

    /// <summary>Judges: also attention details, thumbnails, panel entry.</summary>
    public const string Judge = "judge";

    /// <summary>Officials: also start/end performances and choose the model.</summary>
    public const string Operator = "operator";

    /// <summary>The role given to requests without a token where public results are open.</summary>
    public const string Public = "public";

    /// <summary>Policy: read public results.</summary>
    public const string ResultsPolicy = "results";

    /// <summary>Policy: judge views.</summary>
    public const string JudgePolicy = "judge";

    /// <summary>Policy: operator actions.</summary>
    public const string OperatorPolicy = "operator";

    /// <summary>Roles a token may carry.</summary>
    public static readonly IReadOnlyList<string> Assignable = [Overlay, Judge, Operator];
}
