using TorchSharp;

namespace AqaStream.Scoring.Torch;

/// <summary>Where a model runs: <c>cpu</c> (the default) or <c>cuda</c> / <c>cuda:N</c> where a CUDA build of libtorch
/// and a GPU are present.</summary>
public static class TorchDevice
{
    /// <summary>The names <c>--device</c> accepts.</summary>
    public const string Choices = "cpu, cuda, cuda:N";

    /// <summary>The device named <paramref name="name"/>; a one-line error when it is unknown or not available here.</summary>
    public static torch.Device Parse(string? name)
    {
        var n = string.IsNullOrWhiteSpace(name) ? "cpu" : name.Trim().ToLowerInvariant();
        if (n == "cpu") { return torch.CPU; }
        if (n == "cuda" || n.StartsWith("cuda:", StringComparison.Ordinal))
        {
            if (!torch.cuda.is_available())
            {
                throw new ArgumentException($"--device {name}: CUDA is not available here (this build references libtorch-cpu; a GPU needs libtorch-cuda-12.8-linux-x64 and an NVIDIA driver).");
            }
            var index = n == "cuda" ? 0 : int.TryParse(n.AsSpan(5), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var i) ? i : -1;
            if (index < 0 || index >= torch.cuda.device_count())
            {
                throw new ArgumentException($"--device {name}: there are {torch.cuda.device_count()} CUDA device(s) (cuda:0..cuda:{torch.cuda.device_count() - 1}).");
            }
            return new torch.Device(DeviceType.CUDA, index);
        }
        throw new ArgumentException($"--device {name}: unknown device; use one of {Choices}.");
    }
}
