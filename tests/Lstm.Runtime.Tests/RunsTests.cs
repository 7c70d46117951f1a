using System.Globalization;
using Lstm.Runtime.Data;
using Lstm.Runtime.Persistence;

namespace Lstm.Runtime.Tests;

/// <summary>The run-folder pieces: data specs, metrics logs and atomic files.</summary>
public sealed class RunsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lstm-runs-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Csv(int rows)
    {
        string path = Path.Combine(_dir, "series.csv");
        File.WriteAllLines(path, new[] { "t,a,b" }.Concat(Enumerable.Range(0, rows).Select(i =>
            string.Create(CultureInfo.InvariantCulture, $"{i},{Math.Sin(i * 0.3) * 5 + 20},{i % 7}"))));
        return path;
    }

    [Theory]
    [InlineData(100, 10, 1, 0.2, 70, 20)]
    [InlineData(101, 7, 3, 0.25, 66, 26)]
    [InlineData(37, 1, 1, 0.5, 17, 19)]
    public void Csv_SplitsByTime_ZScoreAndNoneGiveTheSameWindows(int rows, int window, int horizon, double fraction, int train, int validation)
    {
        var spec = new DataSpec { Source = "csv", Path = Csv(rows), Targets = ["a"], Features = ["a", "b"], Window = window, Horizon = horizon, ValFraction = fraction };
        var z = spec.Prepare();
        var raw = (spec with { Normalize = "none" }).Prepare();
        Assert.Equal((train, validation), (z.Train.Count, z.Validation.Count));
        Assert.Equal((train, validation), (raw.Train.Count, raw.Validation.Count));
        Assert.Null(raw.FeatureStats);
        var fs = z.FeatureStats!;
        var ts = z.TargetStats!;
        foreach (var (zs, rs) in new[] { (z.Train, raw.Train), (z.Validation, raw.Validation) })
        {
            foreach (int i in new[] { 0, zs.Count / 2, zs.Count - 1 })
            {
                var (zx, zy, rx, ry) = (new double[window * 2], new double[horizon], new double[window * 2], new double[horizon]);
                zs.Fill(i, zx, zy);
                rs.Fill(i, rx, ry);
                for (int k = 0; k < zx.Length; k++)
                    Assert.Equal(rx[k], zx[k] * fs.Std[k % 2] + fs.Mean[k % 2], 1e-9);
                for (int k = 0; k < horizon; k++)
                    Assert.Equal(ry[k], ts.Denormalize(0, zy[k]), 1e-9);
            }
        }
    }

    [Fact]
    public void Csv_FeaturesDefaultToTheTargets()
    {
        var spec = new DataSpec { Source = "csv", Path = Csv(50), Targets = ["b", "a"], Window = 4 };
        var data = spec.Prepare();
        Assert.Equal(2, data.Train.InputSize);
        Assert.Equal(2, data.Train.TargetLength);
        Assert.Equal(["b", "a"], data.TargetStats!.Columns);
    }

    [Fact]
    public void MetricsLog_ResumeKeepsTheStepsUpToTheCheckpoint()
    {
        string path = Path.Combine(_dir, "metrics.jsonl");
        var log = new MetricsLog(path);
        for (int s = 1; s <= 9; s++)
            log.Add(new StepMetrics(s, 0, 1.0 / s, s % 3 == 0 ? 0.5 / s : null, 0.01, 0.1, s * 0.5));
        log.Flush();
        Assert.Equal(9, File.ReadAllLines(path).Length);
        Assert.DoesNotContain("val_loss", File.ReadAllLines(path)[0], StringComparison.Ordinal);
        Assert.Contains("\"val_loss\":", File.ReadAllLines(path)[2], StringComparison.Ordinal);

        var resumed = MetricsLog.Resume(path, 6);
        Assert.Equal(6, resumed.Records.Count);
        Assert.Equal(6, File.ReadAllLines(path).Length);
        Assert.Equal(MetricsLog.Read(path), resumed.Records);
        Assert.Throws<LstmException>(() => resumed.Add(new StepMetrics(6, 0, 1, null, 0.01, 0.1, 3)));
        resumed.Add(new StepMetrics(7, 0, double.NaN, null, 0.01, 0.1, 3.5));
        resumed.Flush();
        Assert.True(double.IsNaN(MetricsLog.Read(path)[^1].TrainLoss));
    }

    [Fact]
    public void AtomicFile_FailedWrite_LeavesTheOldFileAndNoTemporary()
    {
        string path = Path.Combine(_dir, "config.json");
        AtomicFile.WriteAllText(path, "old");
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, temp =>
        {
            File.WriteAllText(temp, "half");
            throw new InvalidOperationException("disk full");
        }));
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Equal(["config.json"], Directory.GetFiles(_dir).Select(Path.GetFileName));
    }

    [Fact]
    public void RunConfig_RoundTrips()
    {
        var spec = new DataSpec { Source = "text", Task = null, Path = "book.txt", Window = 64, ValFraction = 0.1 };
        var config = new RunConfig(new System.Text.Json.Nodes.JsonObject { ["cell"] = "gru" }, spec, new System.Text.Json.Nodes.JsonObject { ["steps"] = 5 });
        string path = Path.Combine(_dir, "config.json");
        AtomicFile.WriteAllText(path, config.ToJson());
        var back = RunConfig.Load(path);
        Assert.Equal(
            (spec.Source, spec.Task, spec.Path, spec.Window, spec.ValFraction, spec.SeqLen, spec.Seed),
            (back.Data.Source, back.Data.Task, back.Data.Path, back.Data.Window, back.Data.ValFraction, back.Data.SeqLen, back.Data.Seed));
        Assert.DoesNotContain("\"targets\"", config.ToJson(), StringComparison.Ordinal); // Only what applies to a text.
        Assert.Equal("gru", back.Model["cell"]!.GetValue<string>());
        Assert.Equal(5, back.Training["steps"]!.GetValue<int>());
        File.WriteAllText(path, "{\"format\": 2}");
        Assert.Contains("format 2", Assert.Throws<LstmException>(() => RunConfig.Load(path)).Message, StringComparison.Ordinal);
    }
}
