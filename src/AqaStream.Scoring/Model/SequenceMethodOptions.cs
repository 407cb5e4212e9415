namespace AqaStream.Scoring.Model;

/// <summary>
/// The architecture of a sequence method on libtorch (<c>mlp-mean</c>, <c>gdlt</c>, <c>cofinal</c>, <c>tpt</c>, <c>qgvl</c>, <c>gdlt-ws</c>):
/// what its card stores so the checkpoint can be rebuilt. Predictions in points are
/// <see cref="ScoreOffset"/> + <see cref="ScoreSpan"/> · z, where z is the model's normalised output (a per-clip score
/// maps the same way, so ŷ = Σ_q w_q s_q holds in points too).
/// </summary>
public sealed record SequenceMethodOptions
{
    /// <summary>Methods a card may name.</summary>
    public static readonly IReadOnlyList<string> Methods = ["mlp-mean", "gdlt", "cofinal", "tpt", "qgvl", "gdlt-ws"];

    /// <summary>The method: one of <see cref="Methods"/>.</summary>
    public string Method { get; init; } = "gdlt-ws";

    /// <summary>Feature values per clip.</summary>
    public int FeatureDim { get; init; } = 1024;

    /// <summary>Width of the trunk after the per-clip projection (GDLT: 1024 → 512 → this).</summary>
    public int Hidden { get; init; } = 256;

    /// <summary>Width of the projection's first layer (GDLT/CoFInAl: 512).</summary>
    public int ProjectionHidden { get; init; } = 512;

    /// <summary>Grade prototypes (decoder queries) of the grade-decoupled methods; tpt: temporal parts; qgvl: quality prompts.</summary>
    public int Grades { get; init; } = 4;

    /// <summary>Attention heads of the trunk's layers.</summary>
    public int Heads { get; init; } = 1;

    /// <summary>Dropout in the trunk.</summary>
    public float Dropout { get; init; } = 0.3f;

    /// <summary>Most clips one performance may have.</summary>
    public int MaxClips { get; init; } = 4096;

    /// <summary>Points at z = 0.</summary>
    public float ScoreOffset { get; init; }

    /// <summary>Points per unit of z.</summary>
    public float ScoreSpan { get; init; } = 1f;

    /// <summary>qgvl: width of the prompt embeddings (from the prompt file when one is given; 512 = CLIP ViT-B's text width otherwise).</summary>
    public int PromptDim { get; init; } = 512;

    /// <summary>qgvl: the prompt-embedding file the prototypes were initialised from (provenance only; null: learned from random).</summary>
    public string? PromptEmbeddings { get; init; }

    /// <summary>Weight of the auxiliary loss (gdlt, cofinal: grade triplet; tpt: ranking + sparsity; qgvl: prompt alignment).</summary>
    public float AuxiliaryWeight { get; init; } = 1f;

    /// <summary>gdlt-ws: the weight and score heads read each clip's projection alone (before the encoder layer), so a clip's
    /// weight and score depend on that clip only, as the main paper's local cross-attention does; otherwise they read the
    /// encoder's clip states, which mix the clips.</summary>
    public bool LocalHeads { get; init; }

    /// <summary>Checks the values; throws <see cref="ArgumentException"/> naming the wrong one.</summary>
    public void Validate()
    {
        if (!Methods.Contains(Method, StringComparer.Ordinal)) { throw new ArgumentException($"method '{Method}' is not one of {string.Join(", ", Methods)}."); }
        if (FeatureDim < 1) { throw new ArgumentException($"featureDim {FeatureDim} must be positive."); }
        if (Hidden < 1 || ProjectionHidden < 1) { throw new ArgumentException($"hidden {Hidden} and projectionHidden {ProjectionHidden} must be positive."); }
        if (Heads < 1 || Hidden % Heads != 0) { throw new ArgumentException($"heads {Heads} must divide hidden {Hidden}."); }
        if (Grades < 2) { throw new ArgumentException($"grades {Grades} must be at least 2."); }
        if (!(Dropout >= 0 && Dropout < 1)) { throw new ArgumentException($"dropout {Dropout} must be in [0, 1)."); }
        if (PromptDim < 1) { throw new ArgumentException($"promptDim {PromptDim} must be positive."); }
        if (MaxClips < 1) { throw new ArgumentException($"maxClips {MaxClips} must be positive."); }
        if (!float.IsFinite(ScoreOffset) || !(ScoreSpan > 0) || !float.IsFinite(ScoreSpan)) { throw new ArgumentException($"scoreOffset {ScoreOffset} / scoreSpan {ScoreSpan}: the span must be a positive finite number."); }
        if (!(AuxiliaryWeight >= 0) || !float.IsFinite(AuxiliaryWeight)) { throw new ArgumentException($"auxiliaryWeight {AuxiliaryWeight} must be finite and ≥ 0."); }
        if (LocalHeads && Method != "gdlt-ws") { throw new ArgumentException($"localHeads applies to gdlt-ws only, not {Method}."); }
    }
}
