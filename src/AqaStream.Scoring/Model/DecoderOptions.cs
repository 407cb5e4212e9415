using System.Text.Json.Serialization;

namespace AqaStream.Scoring.Model;

/// <summary>How the learned query embedding e is initialised and used.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<QueryInitialisation>))]
public enum QueryInitialisation
{
    /// <summary>Drawn once from N(0, σ²) at construction, then learned (our default).</summary>
    Learned,

    /// <summary>The reference code's behaviour: fresh N(0, σ²) noise on every forward pass, the table unused.</summary>
    RedrawEachForward,
}

/// <summary>
/// The architecture of the weight-score decoder (ARCHITECTURE.md, "The scorer"). Defaults are the reference
/// model as coded, except the deliberate differences named in each property's remarks.
/// </summary>
public sealed record DecoderOptions
{
    /// <summary>The decoder's method name (<c>aqa train --method</c>; the main paper, Interpretable Long-term AQA).</summary>
    public const string MethodName = "ilt-aqa";

    /// <summary>Reference clip feature width (Video Swin-B).</summary>
    public const int ReferenceFeatureDim = 1024;

    /// <summary>Width of each clip feature vector (the memory).</summary>
    public int FeatureDim { get; init; } = ReferenceFeatureDim;

    /// <summary>Decoder width d. When it differs from <see cref="FeatureDim"/> a linear input projection
    /// FeatureDim → d is added (an option for speed; the reference uses d = 1024 = feature width).</summary>
    public int ModelDim { get; init; } = ReferenceFeatureDim;

    /// <summary>Decoder layers (reference 2).</summary>
    public int Layers { get; init; } = 2;

    /// <summary>Attention heads (reference 4).</summary>
    public int Heads { get; init; } = 4;

    /// <summary>FFN hidden width; 0 means d (the reference's 1024 = d).</summary>
    public int FeedForwardDim { get; init; }

    /// <summary>Dropout on residual branches and the FFN (reference 0.7).</summary>
    public float Dropout { get; init; } = 0.7f;

    /// <summary>Dropout on attention probabilities (reference: nn.MultiheadAttention's dropout, also 0.7).</summary>
    public float AttentionDropout { get; init; } = 0.7f;

    /// <summary>Hidden widths of the two head MLPs d→512→256→1 (reference).</summary>
    public int HeadHidden1 { get; init; } = 512;

    /// <summary>Second hidden width of the head MLPs.</summary>
    public int HeadHidden2 { get; init; } = 256;

    /// <summary>Rows of the query embedding table: the longest performance (in clips) the model scores.
    /// Fis-V's longest video has 302 clips.</summary>
    public int MaxQueries { get; init; } = 320;

    /// <summary>σ of the query initialisation N(0, σ²) (Fis-V 5, RG 2, LOGO 0.5).</summary>
    public float QueryInitStd { get; init; } = 5f;

    /// <summary>Learned (default) or the reference's redraw-every-forward.</summary>
    public QueryInitialisation QueryInit { get; init; } = QueryInitialisation.Learned;

    /// <summary>Ignore padded clips in attention, the weight softmax and the attention loss
    /// (deliberate difference: the reference attends to zero padding).</summary>
    public bool MaskPadding { get; init; } = true;

    /// <summary>Query q sees only clips ≤ q and queries ≤ q: earlier outputs become final (streaming).</summary>
    public bool Causal { get; init; }

    /// <summary>
    /// Clip-local cross-attention: query q reads clip q only (its value row; the attention map is the identity), so
    /// each clip's weight and score come from that clip (with one layer, from nothing else: the self-attention before it
    /// sees only the learned queries). Not in the paper: without it the weight head is free to ignore difficulty
    /// (measured on the synthetic benchmark, README "Interpretability"). Default off (the paper's decoder).
    /// </summary>
    public bool LocalCross { get; init; }

    /// <summary>Weight of the attention loss L_att (reference 1).</summary>
    public float AttentionLossWeight { get; init; } = 1f;

    /// <summary>The FFN width in effect.</summary>
    [JsonIgnore]
    public int EffectiveFeedForwardDim => FeedForwardDim > 0 ? FeedForwardDim : ModelDim;

    /// <summary>Whether an input projection FeatureDim → d exists.</summary>
    [JsonIgnore]
    public bool HasInputProjection => ModelDim != FeatureDim;

    /// <summary>Throws with a readable message when the options cannot make a model.</summary>
    public void Validate()
    {
        if (FeatureDim <= 0 || ModelDim <= 0 || Layers <= 0 || Heads <= 0 || MaxQueries <= 0)
        {
            throw new ArgumentException("Feature width, model width, layers, heads and max queries must be positive.");
        }
        if (ModelDim % Heads != 0)
        {
            throw new ArgumentException($"Model width {ModelDim} does not divide into {Heads} heads.");
        }
        if (ModelDim % 2 != 0)
        {
            throw new ArgumentException($"Model width {ModelDim} must be even for the sinusoidal positional encoding.");
        }
        if (Dropout is < 0f or >= 1f || AttentionDropout is < 0f or >= 1f)
        {
            throw new ArgumentException("Dropout probabilities must be in [0, 1).");
        }
    }
}
