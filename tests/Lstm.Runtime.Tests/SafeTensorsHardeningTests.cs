using Lstm.Runtime.Models;
using Lstm.Runtime.Persistence;
using Lstm.Tests.Shared;

namespace Lstm.Runtime.Tests;

/// <summary>
/// Damaged and hostile safetensors files: each is refused with an <see cref="LstmException"/>
/// naming the file, the tensor and the problem, before it can use much memory or time; a file the
/// reader accepts loads exactly the named tensors it needs.
/// </summary>
public sealed class SafeTensorsHardeningTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lstm-safet-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string At(string name) => Path.Combine(_dir, name);

    private string Write(string name, byte[] bytes)
    {
        string path = At(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static SafeTensorsFile Golden(string stem) => GoldenCase.Load(stem).File;

    /// <summary>The golden case's parameters alone: a PyTorch state dict.</summary>
    private static SafeTensorsFile Parameters(string stem)
    {
        var golden = GoldenCase.Load(stem);
        return new SafeTensorsFile(golden.ParamNames.Select(golden.File.Get));
    }

    private string WriteFile(string name, SafeTensorsFile file)
    {
        string path = At(name);
        file.Write(path);
        return path;
    }

    private static LstmException Refused(Action action, params string[] fragments)
    {
        var e = Assert.Throws<LstmException>(action);
        foreach (var f in fragments)
            Assert.Contains(f, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
        return e;
    }

    /// <summary>Runs the golden case's x through <c>lstm run</c>'s runtime with the given model file.</summary>
    private SafeTensorsRunResult RunModel(string model, string stem = "b_tiny")
    {
        var golden = GoldenCase.Load(stem);
        string input = WriteFile("input.safetensors", new SafeTensorsFile(new[] { "x", "h0", "c0" }.Where(golden.File.Contains).Select(golden.File.Get)));
        return SafeTensorsRun.Execute(new SafeTensorsRunSettings
        {
            Model = model, Input = input, Output = At("y.safetensors"), Device = "cpu", BatchFirst = golden.BatchFirst,
        });
    }

    [Fact]
    public void LayerIndexBeyondInt_IsRefusedWithTheName()
    {
        var file = SafeTensorsBytes.Renamed(Parameters("b_tiny"), "weight_hh_l0", "weight_hh_l99999999999");
        string path = WriteFile("overflow.safetensors", file);
        Refused(() => StateDict.InferRecurrent(SafeTensorsFile.Read(path)), path, "'weight_hh_l99999999999'", "layer index 99999999999 is too large");
        Refused(() => RunModel(path), path, "too large");
    }

    [Fact]
    public void LayerIndexOfNonAsciiDigits_IsNotALayer()
    {
        // U+0661, ARABIC-INDIC DIGIT ONE: a digit to \d, not to PyTorch.
        var file = new SafeTensorsFile(Parameters("b_tiny").Tensors.Append(SafeTensor.FromFloat32("weight_ih_l\u0661", [1], [1f])));
        string path = WriteFile("unicode-digit.safetensors", file);
        Assert.Equal(1, StateDict.InferRecurrent(SafeTensorsFile.Read(path)).Shape.NumLayers);
        Refused(() => RunModel(path), path, "'weight_ih_l\u0661' is not a parameter of the network");

        var only = SafeTensorsBytes.Renamed(SafeTensorsBytes.Renamed(Parameters("b_tiny"), "weight_ih_l0", "weight_ih_l\u0660"), "weight_hh_l0", "weight_hh_l\u0660");
        path = WriteFile("unicode-only.safetensors", only);
        Refused(() => StateDict.InferRecurrent(SafeTensorsFile.Read(path)), path, "no recurrent parameters");
    }

    [Fact]
    public void LayerIndexWithLeadingZero_IsRefused()
    {
        string path = WriteFile("zero.safetensors", SafeTensorsBytes.Renamed(Parameters("b_tiny"), "weight_hh_l0", "weight_hh_l00"));
        Refused(() => StateDict.InferRecurrent(SafeTensorsFile.Read(path)), path, "'weight_hh_l00'", "leading zero");
    }

    [Theory]
    [InlineData("\\ud800")]
    [InlineData("w\\udc00x")]
    [InlineData("\\ud800\\ud800")]
    public void LoneSurrogateInAName_IsRefused(string rawName)
    {
        string header = "{" + SafeTensorsBytes.Entry("a", "F32", "[1]", 0, 4) + "," + SafeTensorsBytes.Entry(rawName, "F32", "[1]", 4, 8) + "}";
        string path = Write("surrogate.safetensors", SafeTensorsBytes.Build(header, new byte[8]));
        Refused(() => SafeTensorsFile.Read(path), path, "the header entry after 'a'", "not valid Unicode");
        Refused(() => SafeTensorsFile.Parse(File.ReadAllBytes(path), "bytes"), "bytes: ", "not valid Unicode");
    }

    [Fact]
    public void LoneSurrogateInMetadataOrDType_IsRefused()
    {
        string entry = SafeTensorsBytes.Entry("a", "F32", "[1]", 0, 4);
        string path = Write("meta-key.safetensors", SafeTensorsBytes.Build("{\"__metadata__\":{\"\\ud800\":\"v\"}," + entry + "}", new byte[4]));
        Refused(() => SafeTensorsFile.Read(path), path, "metadata key", "not valid Unicode");
        path = Write("meta-value.safetensors", SafeTensorsBytes.Build("{\"__metadata__\":{\"k\":\"\\udfff\"}," + entry + "}", new byte[4]));
        Refused(() => SafeTensorsFile.Read(path), path, "metadata 'k' is not valid Unicode");
        path = Write("dtype.safetensors", SafeTensorsBytes.Build("{" + SafeTensorsBytes.Entry("a", "F3\\ud800", "[1]", 0, 4) + "}", new byte[4]));
        Refused(() => SafeTensorsFile.Read(path), path, "tensor 'a'", "unknown dtype");
    }

    [Fact]
    public void NameWithControlCharacters_IsRefusedOnOneLine()
    {
        string header = "{" + SafeTensorsBytes.Entry("bad\\nname", "F32", "[2]", 0, 4) + "}";
        string path = Write("newline.safetensors", SafeTensorsBytes.Build(header, new byte[4]));
        Refused(() => SafeTensorsFile.Read(path), path, "tensor 'bad\\u000aname'", "control characters");
        Assert.Equal("'a\\u0000b\\'c\\\\'", SafeTensorsFile.Quote("a\0b'c\\"));
    }

    [Theory]
    [InlineData("[1073741824, 1073741824, 4]", "F32")] // 2^62 elements: 2^64 bytes, 0 when wrapped
    [InlineData("[2147483647, 2147483647, 2147483647]", "U8")] // the element count itself overflows
    [InlineData("[4611686018427387904]", "F32")] // a dimension beyond int
    [InlineData("[1073741824, 1073741824, 2]", "F64")]
    public void ShapeWhoseByteCountOverflows_IsRefused(string shape, string dtype)
    {
        string header = "{" + SafeTensorsBytes.Entry("huge", dtype, shape, 0, 0) + "}";
        string path = Write("huge.safetensors", SafeTensorsBytes.Build(header, []));
        var e = Refused(() => SafeTensorsFile.Read(path), path, "tensor 'huge'");
        Assert.Matches("more than|too many elements|larger than", e.Message);
    }

    [Fact]
    public void UnusedTensorsBesideTheParameters_AreRefusedByName()
    {
        var parameters = Parameters("b_tiny");
        foreach (var extra in new[] { "junk", "lstm.weight_ih_l0", "weight_ih_l0_backup", "optim.weight_ih_l0.exp_avg", "grad.weight_ih_l0" })
        {
            var file = new SafeTensorsFile(parameters.Tensors.Append(SafeTensor.FromFloat32(extra, [2], [1f, 2f])));
            string path = WriteFile("extra.safetensors", file);
            Refused(() => RunModel(path), path, $"'{extra}' is not a parameter of the network");
        }
    }

    [Fact]
    public void DamagedWeightName_InAGoldenFile_NeverRunsItsGradients()
    {
        var golden = Golden("b_tiny");
        string path = WriteFile("damaged.safetensors", SafeTensorsBytes.Renamed(golden, "weight_ih_l0", "weight_ih_lO"));
        Refused(() => RunModel(path), path, "'weight_ih_l0' is missing", "'weight_ih_lO'");

        // Gradients alone are no network either.
        var gradients = new SafeTensorsFile(golden.Tensors.Where(t => t.Name.StartsWith("grad.", StringComparison.Ordinal)));
        path = WriteFile("gradients.safetensors", gradients);
        Refused(() => StateDict.InferRecurrent(SafeTensorsFile.Read(path)), path, "no recurrent parameters");
    }

    [Fact]
    public void GoldenFileAndThisLibrarysModelFile_RunWithTheirKnownCompanions()
    {
        var golden = GoldenCase.Load("b_tiny");
        var expected = golden.Get("output");

        // A golden case keeps x, outputs, gradients and grad.* beside the parameters.
        string path = WriteFile("golden.safetensors", golden.File);
        RunModel(path);
        Assert.True(Numerics.MaxAbsError(expected, SafeTensorsFile.Read(At("y.safetensors")).Get("output").ToFloat64()) < 1e-5);

        // A model file of this library: lstm.* with the head fc.* beside them.
        var model = new SafeTensorsFile(golden.ParamNames.Select(n => golden.File.Get(n)).Select(t => new SafeTensor("lstm." + t.Name, t.DType, t.Shape.ToArray(), t.Data.ToArray()))
            .Append(SafeTensor.FromFloat32("fc.weight", [1, 4], [1f, 2f, 3f, 4f])).Append(SafeTensor.FromFloat32("fc.bias", [1], [0.5f])));
        path = WriteFile("model.safetensors", model);
        Assert.Contains("LSTM(input_size=3, hidden_size=4", RunModel(path).Network, StringComparison.Ordinal);
        Assert.True(Numerics.MaxAbsError(expected, SafeTensorsFile.Read(At("y.safetensors")).Get("output").ToFloat64()) < 1e-5);
    }

    [Fact]
    public void HeaderLengthOverTheCap_IsRefusedBeforeTheHeaderIsRead()
    {
        string path = At("big-header.safetensors");
        using (var stream = new FileStream(path, FileMode.Create))
        {
            stream.Write(BitConverter.GetBytes((ulong)(133L * 1024 * 1024)));
            stream.SetLength(140L * 1024 * 1024); // sparse: no 140 MB written
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        Refused(() => SafeTensorsFile.Read(path), path, "header length 139460608 is over the limit of 104857600 bytes");
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20, "the header is refused before it is read");

        byte[] small = SafeTensorsBytes.Build("{}", [], lengthField: (ulong)SafeTensorsFile.MaxHeaderBytes + 1);
        Refused(() => SafeTensorsFile.Parse(small, "small"), "small: ", "over the limit");
        Refused(() => SafeTensorsFile.Parse(SafeTensorsBytes.Build("{}", [], lengthField: ulong.MaxValue), "max"), "max: ", "over the limit");
    }

    [Fact]
    public void LargeFile_IsMappedNotReadWhole_AndOnlyTheTensorsUsedAreCopied()
    {
        // 3 GiB of sparse U8 data, then one small F32 tensor at the end.
        const long Big = 3L << 30;
        string header = "{" + SafeTensorsBytes.Entry("big", "U8", "[3, 1073741824]", 0, Big) + "," + SafeTensorsBytes.Entry("small", "F32", "[3]", Big, Big + 12) + "}";
        byte[] head = SafeTensorsBytes.Build(header, []);
        string path = At("large.safetensors");
        using (var stream = new FileStream(path, FileMode.Create))
        {
            stream.Write(head);
            stream.SetLength(head.Length + Big + 12);
            stream.Position = head.Length + Big;
            foreach (float v in new[] { 1.5f, -2f, 3.25f })
                stream.Write(BitConverter.GetBytes(v));
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        var file = SafeTensorsFile.Read(path);
        Assert.Equal([1.5f, -2f, 3.25f], file.Get("small").ToFloat32());
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20, "only the small tensor is copied");
        Assert.Equal(Big, file.Get("big").ByteCount);
        Refused(() => _ = file.Get("big").Data, path, "tensor 'big'", "more than an array holds");
        Refused(() => file.Get("big").ToFloat32(), "tensor 'big'", "more than an array holds");
    }

    [Fact]
    public void FileChangedAfterItsHeaderWasRead_IsRefused()
    {
        string path = WriteFile("changing.safetensors", Parameters("b_tiny"));
        var file = SafeTensorsFile.Read(path);
        File.WriteAllBytes(path, Golden("b_tiny").ToBytes());
        Refused(() => file.Get("weight_ih_l0").ToFloat32(), path, "tensor 'weight_ih_l0'", "changed since its header was read");
        File.Delete(path);
        Refused(() => file.Get("weight_hh_l0").ToFloat32(), path, "tensor 'weight_hh_l0'", "cannot read");
    }

    [Theory]
    [InlineData("b_tiny")]
    [InlineData("g_seed_f64")]
    [InlineData("c_bidir_l2_seqfirst")]
    public void MappedRead_EqualsParsingTheBytes(string stem)
    {
        string path = Path.Combine(GoldenCase.Directory, stem + ".safetensors");
        var mapped = SafeTensorsFile.Read(path);
        var parsed = SafeTensorsFile.Parse(File.ReadAllBytes(path), path);
        Assert.Equal(parsed.Metadata, mapped.Metadata);
        Assert.Equal(parsed.Tensors.Select(t => t.ToString()), mapped.Tensors.Select(t => t.ToString()));
        foreach (var t in parsed.Tensors)
            Assert.True(t.Data.Span.SequenceEqual(mapped.Get(t.Name).Data.Span), t.Name);
        Assert.Equal(parsed.ToBytes(), mapped.ToBytes());
    }

    [Theory]
    [InlineData(-1, "truncated file?")]
    [InlineData(7, "shorter than the 8-byte header length")]
    [InlineData(12, "larger than the")]
    public void TruncatedFile_NamesTheFile(int keep, string fragment)
    {
        byte[] bytes = Parameters("b_tiny").ToBytes();
        int length = keep < 0 ? bytes.Length - 1 : keep;
        string path = Write("cut.safetensors", bytes[..length]);
        Refused(() => SafeTensorsFile.Read(path), path, keep < 0 ? "tensor '" : "not a safetensors file");
        if (keep >= 0)
            Refused(() => SafeTensorsFile.Read(path), fragment);
        else
            Refused(() => SafeTensorsFile.Read(path), "run past the end of the data");
    }

    [Fact]
    public void OverlappingOrDuplicatedEntries_AreRefused()
    {
        string two = "{" + SafeTensorsBytes.Entry("a", "F32", "[1]", 0, 4) + "," + SafeTensorsBytes.Entry("b", "F32", "[1]", 0, 4) + "}";
        string path = Write("overlap.safetensors", SafeTensorsBytes.Build(two, new byte[8]));
        Refused(() => SafeTensorsFile.Read(path), path, "tensor 'b'", "overlap another tensor");
        string twice = "{" + SafeTensorsBytes.Entry("a", "F32", "[1]", 0, 4) + "," + SafeTensorsBytes.Entry("a", "F32", "[1]", 4, 8) + "}";
        path = Write("twice.safetensors", SafeTensorsBytes.Build(twice, new byte[8]));
        Refused(() => SafeTensorsFile.Read(path), path, "tensor 'a' appears twice");
    }
}
