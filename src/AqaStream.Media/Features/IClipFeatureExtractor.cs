using AqaStream.Media.Decoding;
using AqaStream.Media.Windowing;

namespace AqaStream.Media.Features;

/// <summary>Turns a clip's frames into the feature vector the scorer reads (one row of a performance's clip features).</summary>
public interface IClipFeatureExtractor
{
    /// <summary>Name recorded with the features (a model trained on one extractor's features only reads that extractor's).</summary>
    string Name { get; }

    /// <summary>Length of the vectors it produces.</summary>
    int Dimension { get; }

    /// <summary>Size of the grey frames it expects (the decoder scales to it).</summary>
    FrameSize InputSize { get; }

    /// <summary>The clip's features.</summary>
    ValueTask<float[]> ExtractAsync(VideoClip clip, CancellationToken cancellationToken = default);
}
