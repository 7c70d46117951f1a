using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Models;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Persistence;
using Lstm.Tests.Shared;
using Xunit.Abstractions;

namespace Lstm.Runtime.Tests;

/// <summary>
/// Mutants of the golden files and of model files this library writes (<see cref="SafeTensorsMutator"/>):
/// each must be refused with an <see cref="LstmException"/> or load exactly what an independent
/// decoder of the format reads from its bytes; read from a file (mapped) and parsed from bytes
/// alike; and, as a state dict, load a network's parameters with those values or be refused.
/// LSTM_SAFETENSORS_FUZZ_CASES sets the number of mutants (default 3000),
/// LSTM_SAFETENSORS_FUZZ_SEED the seed.
/// </summary>
public sealed class SafeTensorsFuzzTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lstm-fuzz-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static int Setting(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : fallback;

    /// <summary>What one mutant gave at one stage.</summary>
    private enum Outcome
    {
        CleanError,
        Correct,
        Other,
    }

    [Fact]
    public void Mutants_AreRefusedCleanlyOrLoadExactly()
    {
        int cases = Setting("LSTM_SAFETENSORS_FUZZ_CASES", 3000);
        int seed = Setting("LSTM_SAFETENSORS_FUZZ_SEED", 20240611);
        using var device = ComputeDevice.Open("cpu");
        var bases = Bases(device);
        var mutators = bases.Select(b => (b.Name, Mutator: new SafeTensorsMutator(b.Bytes))).ToList();
        var file = new int[3];
        var model = new int[3];
        var others = new List<string>();
        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        string path = Path.Combine(_dir, "mutant.safetensors");
        for (int i = 0; i < cases; i++)
        {
            var (name, mutator) = mutators[i % mutators.Count];
            var (bytes, what) = mutator.Mutate(new Random(seed + i));
            File.WriteAllBytes(path, bytes);
            var (fileOutcome, loaded, detail) = CheckFile(path, bytes);
            file[(int)fileOutcome]++;
            if (fileOutcome == Outcome.Correct)
            {
                (var modelOutcome, detail) = CheckModel(device, loaded!, bytes);
                model[(int)modelOutcome]++;
                fileOutcome = modelOutcome;
            }

            if (fileOutcome == Outcome.Other && others.Count < 10)
                others.Add($"case {i} ({name}: {what}): {detail}");
        }

        output.WriteLine($"{cases} mutants of {bases.Count} files (seed {seed}) in {stopwatch.Elapsed.TotalSeconds:F1} s");
        output.WriteLine($"read: {file[0]} clean errors, {file[1]} correct loads, {file[2]} anything else");
        output.WriteLine($"as a state dict (of the {file[1]} read): {model[0]} clean errors, {model[1]} correct loads, {model[2]} anything else");
        foreach (string o in others)
            output.WriteLine(o);
        Assert.Equal(cases, file.Sum());
        Assert.Equal(file[1], model.Sum());
        Assert.True(file[2] == 0 && model[2] == 0, string.Join("\n", others));
        Assert.True(file[0] > cases / 4 && file[1] > cases / 10, "the mutants reach both outcomes");
    }

    /// <summary>The golden cases and model files written here: state dicts of an LSTM (bidirectional, float32) and a GRU (float64), a sequence network's (lstm.*, fc.*) and a language model's (embedding.*, gru.*, fc.*).</summary>
    private List<(string Name, byte[] Bytes)> Bases(ComputeDevice device)
    {
        var bases = Directory.GetFiles(GoldenCase.Directory, "*.safetensors").Order(StringComparer.Ordinal)
            .Select(p => (Path.GetFileName(p), File.ReadAllBytes(p))).ToList();
        using (var lstm = new LSTM<float>(device, new LSTMOptions(3, 4, 2, Bidirectional: true), seed: 5))
            bases.Add(Saved("lstm-state-dict", lstm.Parameters().Select(p => (p.Name, p))));
        using (var gru = new GRU<double>(device, new GRUOptions(2, 3, 1), seed: 6))
            bases.Add(Saved("gru-state-dict", gru.Parameters().Select(p => (p.Name, p))));
        using (var network = new SequenceNetwork<float>(device, new ModelConfig(ModelKind.SequenceToOne, CellKind.Lstm, 2, 3, 1, NumLayers: 2)))
            bases.Add(Saved("sequence-network", network.NamedParameters()));
        using (var network = new SequenceNetwork<float>(device, ModelConfig.LanguageModel(CellKind.Gru, vocabSize: 5, embeddingDim: 3, hiddenSize: 4)))
            bases.Add(Saved("language-model", network.NamedParameters()));
        return bases;
    }

    private (string, byte[]) Saved<T>(string name, IEnumerable<(string Name, Tensors.Parameter<T> Parameter)> parameters) where T : unmanaged
    {
        string path = Path.Combine(_dir, name + ".safetensors");
        StateDict.Save(path, parameters);
        return (name, File.ReadAllBytes(path));
    }

    /// <summary>Reads the mutant mapped and from its bytes: both refuse it cleanly, or both give the reference decode.</summary>
    private static (Outcome, SafeTensorsFile?, string) CheckFile(string path, byte[] bytes)
    {
        SafeTensorsFile? mapped = null, parsed = null;
        Exception? mappedError = null, parsedError = null;
        try
        {
            mapped = SafeTensorsFile.Read(path);
            foreach (var t in mapped.Tensors)
                _ = t.ToFloat64();
        }
        catch (Exception e)
        {
            mappedError = e;
        }

        try
        {
            parsed = SafeTensorsFile.Parse(bytes, path);
        }
        catch (Exception e)
        {
            parsedError = e;
        }

        if (mappedError is not null || parsedError is not null)
        {
            var bad = new[] { mappedError, parsedError }.FirstOrDefault(e => e is not null and not LstmException);
            if (bad is not null)
                return (Outcome.Other, null, bad.ToString());
            if ((mappedError is null) != (parsedError is null))
                return (Outcome.Other, null, $"read and parse disagree: {mappedError?.Message ?? "read"} / {parsedError?.Message ?? "parsed"}");
            if (mappedError!.Message.Contains('\n', StringComparison.Ordinal) || !mappedError.Message.StartsWith(path, StringComparison.Ordinal))
                return (Outcome.Other, null, $"not one line naming the file: {mappedError.Message}");
            return (Outcome.CleanError, null, mappedError.Message);
        }

        try
        {
            var reference = ReferenceDecode(bytes);
            foreach (var f in new[] { mapped!, parsed! })
            {
                if (!f.Metadata.OrderBy(m => m.Key, StringComparer.Ordinal).SequenceEqual(reference.Metadata.OrderBy(m => m.Key, StringComparer.Ordinal)))
                    return (Outcome.Other, null, "metadata differ");
                if (f.Tensors.Count != reference.Tensors.Count)
                    return (Outcome.Other, null, $"{f.Tensors.Count} tensors, the reference {reference.Tensors.Count}");
                foreach (var t in f.Tensors)
                {
                    if (!reference.Tensors.TryGetValue(t.Name, out var r))
                        return (Outcome.Other, null, $"tensor '{t.Name}' not in the reference");
                    if (SafeTensorsFileDTypeName(t) != r.DType || !t.Shape.SequenceEqual(r.Shape) || !t.ToFloat64().SequenceEqual(r.Values))
                        return (Outcome.Other, null, $"tensor '{t.Name}' differs from the reference");
                }
            }
        }
        catch (Exception e)
        {
            return (Outcome.Other, null, "accepted, but the reference decoder fails: " + e.Message);
        }

        return (Outcome.Correct, mapped, "");
    }

    /// <summary>As <c>lstm run</c> loads a model: infer the network, then load its parameters by exact name; they must equal the reference decode.</summary>
    private static (Outcome, string) CheckModel(ComputeDevice device, SafeTensorsFile file, byte[] bytes)
    {
        try
        {
            var (shape, prefix) = StateDict.InferRecurrent(file);
            if ((long)shape.HiddenSize * shape.InputSize * shape.NumLayers > 1 << 20)
                return (Outcome.Other, $"an inferred network too large for the file: {shape}");
            var cell = shape.Gates switch { 4 => CellKind.Lstm, 3 => CellKind.Gru, _ => CellKind.RnnTanh };
            using var layer = RecurrentLayers.Create<float>(device, cell, shape.InputSize, shape.HiddenSize, shape.NumLayers, shape.Bias, false, 0, shape.Bidirectional, shape.ProjSize);
            var parameters = layer.Parameters().ToList();
            StateDict.LoadExact(parameters.Select(p => (p.Name, p)), file, prefix);
            var reference = ReferenceDecode(bytes);
            foreach (var p in parameters)
            {
                var expected = reference.Tensors[prefix + p.Name].Values.Select(v => (float)v);
                if (!p.Value.ToArray().SequenceEqual(expected))
                    return (Outcome.Other, $"parameter {prefix}{p.Name} differs from the reference decode");
            }

            return (Outcome.Correct, "");
        }
        catch (LstmException e)
        {
            return e.Message.Contains('\n', StringComparison.Ordinal) ? (Outcome.Other, "two lines: " + e.Message) : (Outcome.CleanError, e.Message);
        }
        catch (Exception e)
        {
            return (Outcome.Other, e.ToString());
        }
    }

    private static string SafeTensorsFileDTypeName(SafeTensor t) => t.DType == SafeTensorDType.Bool ? "BOOL" : t.DType.ToString();

    /// <summary>An independent decoder of the format, trusted only on files the reader accepted.</summary>
    private static (Dictionary<string, string> Metadata, Dictionary<string, (string DType, int[] Shape, double[] Values)> Tensors) ReferenceDecode(byte[] bytes)
    {
        long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        using var doc = JsonDocument.Parse(Encoding.UTF8.GetString(bytes, 8, (int)n));
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var tensors = new Dictionary<string, (string, int[], double[])>(StringComparer.Ordinal);
        long start = 8 + n;
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            if (p.Name == "__metadata__")
            {
                if (p.Value.ValueKind == JsonValueKind.Object)
                {
                    foreach (var m in p.Value.EnumerateObject())
                        metadata.Add(m.Name, m.Value.GetString()!);
                }

                continue;
            }

            string dtype = p.Value.GetProperty("dtype").GetString()!;
            int[] shape = p.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()).ToArray();
            var offsets = p.Value.GetProperty("data_offsets");
            int begin = checked((int)(start + offsets[0].GetInt64())), end = checked((int)(start + offsets[1].GetInt64()));
            var raw = bytes.AsSpan(begin, end - begin);
            int size = dtype switch { "F64" or "I64" => 8, "F32" or "I32" => 4, "F16" or "BF16" or "I16" => 2, _ => 1 };
            var values = new double[raw.Length / size];
            for (int i = 0; i < values.Length; i++)
            {
                var b = raw.Slice(i * size, size);
                values[i] = dtype switch
                {
                    "F64" => BitConverter.ToDouble(b),
                    "F32" => BitConverter.ToSingle(b),
                    "F16" => (double)BitConverter.ToHalf(b),
                    "BF16" => BitConverter.ToSingle([0, 0, b[0], b[1]]),
                    "I64" => BitConverter.ToInt64(b),
                    "I32" => BitConverter.ToInt32(b),
                    "I16" => BitConverter.ToInt16(b),
                    "I8" => (sbyte)b[0],
                    "U8" => b[0],
                    "BOOL" => b[0] != 0 ? 1 : 0,
                    _ => throw new InvalidDataException($"dtype {dtype}"),
                };
            }

            if (values.Length != shape.Aggregate(1L, (a, d) => a * d))
                throw new InvalidDataException($"'{p.Name}': {values.Length} values for shape [{string.Join(", ", shape)}]");
            tensors.Add(p.Name, (dtype, shape, values));
        }

        return (metadata, tensors);
    }
}
