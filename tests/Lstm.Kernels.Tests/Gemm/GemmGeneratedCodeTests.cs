namespace Lstm.Kernels.Tests.Gemm;

/// <summary>
/// The unrolled blocks of the FP32 GEMM kernels are written by <see cref="GemmCodeGenerator"/>:
/// the file in the repository must be what the generator writes now. With <c>LSTM_REGENERATE=1</c>
/// the test rewrites the file instead (then passes; rebuild and commit it).
/// </summary>
public class GemmGeneratedCodeTests
{
    [Fact]
    public void GemmGeneratedCode_IsUpToDate()
    {
        string path = Path.Combine(GemmCodeGenerator.RepositoryRoot(), GemmCodeGenerator.RelativePath);
        string expected = GemmCodeGenerator.Generate();
        if (Environment.GetEnvironmentVariable("LSTM_REGENERATE") == "1")
        {
            File.WriteAllText(path, expected);
            return;
        }

        Assert.True(File.Exists(path), $"{GemmCodeGenerator.RelativePath} is missing: run this test with LSTM_REGENERATE=1");
        string actual = File.ReadAllText(path).ReplaceLineEndings("\n");
        Assert.True(
            actual == expected,
            $"{GemmCodeGenerator.RelativePath} is stale: rerun this test with LSTM_REGENERATE=1, rebuild and commit the file");
    }
}
