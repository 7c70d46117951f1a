using Lstm.Runtime.Data;

namespace Lstm.Runtime.Tests;

/// <summary>CSV series, normalization, windows, text, synthetic tasks and deterministic batching.</summary>
public sealed class DataTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lstm-data-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void ReadCsv_ChoosesColumnsByName_InTheOrderAsked()
    {
        string path = Write("ok.csv", "date,temp,\"load, kW\"\n2024-01-01,1.5,10\n2024-01-02, -2e-1 ,\"20\"\n\n2024-01-03,3,30\n");
        var s = TimeSeries.ReadCsv(path, ["load, kW", "temp"]);
        Assert.Equal(3, s.Rows);
        Assert.Equal(["load, kW", "temp"], s.Columns);
        Assert.Equal([10, 1.5, 20, -0.2, 30, 3], s.Values);
    }

    [Fact]
    public void ReadCsv_BadValues_NameFileLineAndColumn()
    {
        string path = Write("bad.csv", "date,temp,load\n2024-01-01,1.5,10\n2024-01-02,abc,20\n2024-01-03,,30\n");
        var e = Assert.Throws<LstmException>(() => TimeSeries.ReadCsv(path, ["temp", "load"]));
        Assert.Equal($"{path}: line 3, column 2 'temp': 'abc' is not a number", e.Message);

        string missing = Write("missing.csv", "date,temp,load\n2024-01-01,1.5,10\n2024-01-02,2,\n");
        e = Assert.Throws<LstmException>(() => TimeSeries.ReadCsv(missing, ["temp", "load"]));
        Assert.Equal($"{missing}: line 3, column 3 'load': missing value", e.Message);

        string shortRow = Write("short.csv", "date,temp,load\n2024-01-01,1.5,10\n2024-01-02,2\n");
        e = Assert.Throws<LstmException>(() => TimeSeries.ReadCsv(shortRow, ["load"]));
        Assert.Equal($"{shortRow}: line 3, column 3 'load': missing value", e.Message);

        e = Assert.Throws<LstmException>(() => TimeSeries.ReadCsv(path, ["pressure"]));
        Assert.Equal($"{path}: no column 'pressure' in the header (columns: date, temp, load)", e.Message);

        string firstBad = Write("first.csv", "temp\nx\n1\n");
        e = Assert.Throws<LstmException>(() => TimeSeries.ReadCsv(firstBad, ["temp"], MissingValues.FillPrevious));
        Assert.Equal($"{firstBad}: line 2, column 1 'temp': 'x' is not a number, and no previous row to fill from", e.Message);

        string empty = Write("empty.csv", "");
        e = Assert.Throws<LstmException>(() => TimeSeries.ReadCsv(empty, ["temp"]));
        Assert.Equal($"{empty}: the file is empty (a header row naming the columns is expected)", e.Message);

        string absent = Path.Combine(_dir, "absent.csv");
        e = Assert.Throws<LstmException>(() => TimeSeries.ReadCsv(absent, ["temp"]));
        Assert.StartsWith(absent + ": ", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadCsv_MissingValueOptions_DropOrFill()
    {
        string path = Write("gaps.csv", "a,b\n1,10\n2,\nnan?,30\n4,40\n");
        Assert.Equal([1, 10, 4, 40], TimeSeries.ReadCsv(path, ["a", "b"], MissingValues.DropRow).Values);
        Assert.Equal([1, 10, 2, 10, 2, 30, 4, 40], TimeSeries.ReadCsv(path, ["a", "b"], MissingValues.FillPrevious).Values);
        Assert.Equal([1, 10, 2, 0, 0, 30, 4, 40], TimeSeries.ReadCsv(path, ["a", "b"], MissingValues.FillZero).Values);
    }

    [Fact]
    public void ForecastSplit_NormalizesWithTrainingStatistics_AndWindowsByTime()
    {
        // x_t = t, y_t = 10 t for t = 0..19; window 3, horizon 2, 60 % train → 12 training rows.
        var features = new TimeSeries(["x"], Enumerable.Range(0, 20).Select(t => (double)t).ToArray(), 20);
        var targets = new TimeSeries(["y"], Enumerable.Range(0, 20).Select(t => 10.0 * t).ToArray(), 20);
        var (train, valid, fs, ts) = ForecastDataset.Split(features, targets, window: 3, horizon: 2, trainFraction: 0.6);
        Assert.Equal(5.5, fs.Mean[0], 12);
        Assert.Equal(Math.Sqrt((144 - 1) / 12.0), fs.Std[0], 12);
        Assert.Equal(55, ts.Mean[0], 12);
        // Each window's targets are the 2 rows after it. Training windows' last targets are rows
        // 4..11 (8 windows); the validation windows follow, last targets rows 12..19 (8 windows).
        Assert.Equal(8, train.Count);
        Assert.Equal(8, valid.Count);
        var x = new double[3];
        var y = new double[2];
        train.Fill(0, x, y);
        Assert.Equal([0, 1, 2], x.Select(v => Math.Round(fs.Denormalize(0, v), 9)).ToArray());
        Assert.Equal([30, 40], y.Select(v => Math.Round(ts.Denormalize(0, v), 9)).ToArray());
        valid.Fill(0, x, y);
        Assert.Equal([8, 9, 10], x.Select(v => Math.Round(fs.Denormalize(0, v), 9)).ToArray());
        Assert.Equal([110, 120], y.Select(v => Math.Round(ts.Denormalize(0, v), 9)).ToArray());
        valid.Fill(7, x, y);
        Assert.Equal([180, 190], y.Select(v => Math.Round(ts.Denormalize(0, v), 9)).ToArray());

        string path = Path.Combine(_dir, "stats.json");
        fs.Save(path);
        var loaded = ZScoreStatistics.Load(path);
        Assert.Equal(fs.Columns, loaded.Columns);
        Assert.Equal(fs.Mean, loaded.Mean);
        Assert.Equal(fs.Std, loaded.Std);
        Assert.Contains("\"mean\"", File.ReadAllText(path), StringComparison.Ordinal);
    }

    [Fact]
    public void CharVocabulary_EncodesDecodesAndRoundTripsThroughJson()
    {
        const string text = "hello world\n";
        var vocab = CharVocabulary.FromText(text);
        Assert.Equal("\n dehlorw", string.Concat(vocab.Chars));
        var ids = vocab.Encode(text);
        Assert.Equal(text, vocab.Decode(ids));
        string path = Path.Combine(_dir, "vocab.json");
        vocab.Save(path);
        var loaded = CharVocabulary.Load(path);
        Assert.Equal(vocab.Chars, loaded.Chars);
        var e = Assert.Throws<LstmException>(() => vocab.Encode("hex"));
        Assert.Equal("character 'x' at position 2 is not in the vocabulary of 9", e.Message);

        var data = new CharTextDataset(ids, steps: 4);
        Assert.Equal(2, data.Count);
        var x = new double[4];
        var y = new double[4];
        data.Fill(1, x, y);
        Assert.Equal("o wo", vocab.Decode(x.Select(v => (int)v)));
        Assert.Equal(" wor", vocab.Decode(y.Select(v => (int)v)));
    }

    [Fact]
    public void AddingTask_AlwaysAnsweringHalf_ScoresTheKnownBaseline()
    {
        var task = new AddingTask(steps: 50, count: 40000, seed: 3);
        var x = new double[50 * 2];
        var y = new double[1];
        double mse = 0;
        for (int i = 0; i < task.Count; i++)
        {
            task.Fill(i, x, y);
            var marked = Enumerable.Range(0, 50).Where(t => x[2 * t + 1] == 1).ToArray();
            Assert.Equal(2, marked.Length);
            Assert.True(marked[0] < 25 && marked[1] >= 25);
            Assert.Equal(0.5 + (x[2 * marked[0]] + x[2 * marked[1]]) / 4, y[0], 15);
            mse += (y[0] - 0.5) * (y[0] - 0.5);
        }

        mse /= task.Count;
        // Var(X1 + X2) / 16 with X uniform in [-1, 1]: (2/3) / 16 = 1/24 ≈ 0.0417.
        Assert.True(Math.Abs(mse - 1.0 / 24) < 0.001, $"baseline MSE {mse}");
    }

    [Fact]
    public void CopyTask_HasTheArjovskyLayout_AndMemorylessBaseline()
    {
        var task = new CopyTask(delay: 5, count: 3000, seed: 4);
        Assert.Equal(25, task.Steps);
        var x = new double[25];
        var y = new double[25];
        var counts = new double[10];
        for (int i = 0; i < task.Count; i++)
        {
            task.Fill(i, x, y);
            for (int t = 0; t < 10; t++)
            {
                Assert.InRange(x[t], 1, 8);
                Assert.Equal(x[t], y[15 + t]);
                counts[(int)x[t]]++;
            }

            Assert.All(x.Skip(10).Take(4), v => Assert.Equal(0, v));
            Assert.Equal(9, x[14]);
            Assert.All(x.Skip(15), v => Assert.Equal(0, v));
            Assert.All(y.Take(15), v => Assert.Equal(0, v));
        }

        // Symbols are uniform on 1..8.
        Assert.All(counts.Skip(1).Take(8), c => Assert.InRange(c / (10.0 * task.Count), 0.115, 0.135));
        var onehot = new CopyTask(5, 1, 4, oneHot: true);
        var xh = new double[25 * 10];
        onehot.Fill(0, xh, y);
        task.Fill(0, x, new double[25]);
        for (int t = 0; t < 25; t++)
            Assert.Equal(1, xh[t * 10 + (int)x[t]]);
        Assert.Equal(25, xh.Sum());
    }

    [Fact]
    public void MackeyGlass_IsBoundedChaoticAndReproducible()
    {
        var a = MackeyGlass.Series(2000, seed: 1);
        var b = MackeyGlass.Series(2000, seed: 1);
        var c = MackeyGlass.Series(2000, seed: 2);
        Assert.Equal(a.Values, b.Values);
        Assert.NotEqual(a.Values, c.Values);
        Assert.All(a.Values, v => Assert.InRange(v, 0.2, 1.5));
        double mean = a.Values.Average();
        double std = Math.Sqrt(a.Values.Average(v => (v - mean) * (v - mean)));
        Assert.InRange(mean, 0.8, 1.0);
        Assert.InRange(std, 0.15, 0.3);
        var windows = MackeyGlass.Windows(17, 100, 1);
        var x = new double[17];
        var y = new double[1];
        windows.Fill(3, x, y);
        var s = MackeyGlass.Series(117, 1).Values;
        Assert.Equal(s.Skip(3).Take(17), x);
        Assert.Equal(s[20], y[0]);
    }

    [Fact]
    public void SyntheticTasks_ByName_AndUnknownNameIsAnError()
    {
        Assert.IsType<SineDataset>(SyntheticTasks.Create("sine", 20, 10, 1));
        Assert.IsType<AddingTask>(SyntheticTasks.Create("adding", 20, 10, 1));
        Assert.IsType<CopyTask>(SyntheticTasks.Create("copy", 20, 10, 1));
        Assert.IsType<ForecastDataset>(SyntheticTasks.Create("mackey-glass", 20, 10, 1));
        var e = Assert.Throws<LstmException>(() => SyntheticTasks.Create("parity", 20, 10, 1));
        Assert.Equal("unknown task 'parity' (tasks: sine, adding, copy, mackey-glass)", e.Message);
    }

    [Fact]
    public void DataLoader_RestoredPosition_GivesTheSameBatches()
    {
        var data = new AddingTask(6, 10, seed: 5);
        var straight = new DataLoader(data, batchSize: 3, seed: 9);
        var batches = Enumerable.Range(0, 8).Select(_ => straight.Next()).ToList();
        // Each epoch visits 9 distinct samples (3 full batches; the tenth is dropped that epoch).
        Assert.Equal(9, batches.Take(3).SelectMany(b => b.Indices).Distinct().Count());
        Assert.NotEqual(batches[0].Indices, batches[3].Indices);

        var first = new DataLoader(data, 3, seed: 9);
        for (int i = 0; i < 5; i++)
            first.Next();
        string saved = first.Position.ToJson();
        var resumed = new DataLoader(data, 3, seed: 9);
        resumed.Restore(DataPosition.FromJson(saved));
        for (int i = 5; i < 8; i++)
        {
            var b = resumed.Next();
            Assert.Equal(batches[i].Indices, b.Indices);
            Assert.Equal(batches[i].X, b.X);
            Assert.Equal(batches[i].Y, b.Y);
        }

        var ordered = new DataLoader(data, 4, shuffle: false);
        Assert.Equal([0, 1, 2, 3], ordered.Next().Indices);
        Assert.Throws<LstmException>(() => new DataLoader(data, 11));
    }
}
