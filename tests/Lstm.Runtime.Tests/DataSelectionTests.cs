using Lstm.Runtime.Data;

namespace Lstm.Runtime.Tests;

/// <summary>The data-source rules of <see cref="DataSelection"/>: one source, no option of another, the defaults of the source chosen.</summary>
public sealed class DataSelectionTests
{
    [Fact]
    public void NothingGiven_IsTheSineTask_WithTheDefaults()
    {
        var selection = new DataSelection();
        Assert.False(selection.AnyGiven);
        var spec = selection.ToSpec();
        Assert.Equal("task", spec.Source);
        Assert.Equal(DataDefaults.Task, spec.Task);
        Assert.Equal(DataDefaults.SeqLen, spec.SeqLen);
        Assert.Equal(DataDefaults.TrainSamples, spec.TrainSamples);
        Assert.Equal(DataDefaults.ValidationSamples, spec.ValidationSamples);
        Assert.Equal(new DataSpec(), spec);
    }

    [Fact]
    public void Text_DefaultsToTheTextWindow_Csv_ToTheCsvWindow()
    {
        Assert.Equal(DataDefaults.TextWindow, new DataSelection { Text = "a.txt" }.ToSpec().Window);
        var csv = new DataSelection { Csv = "a.csv", Target = " load , temp" }.ToSpec();
        Assert.Equal(DataDefaults.Window, csv.Window);
        Assert.Equal(["load", "temp"], csv.Targets);
        Assert.Null(csv.Task);
    }

    [Fact]
    public void TwoSources_AreRejected_NamingTheOptions()
    {
        var e = Assert.Throws<LstmException>(() => new DataSelection { Task = "sine", Csv = "a.csv" }.ToSpec());
        Assert.Equal("give one of --task, --csv and --text (got --task sine, --csv a.csv)", e.Message);
    }

    [Theory]
    [InlineData("task", "--target", "--target y: does not apply to a synthetic task")]
    [InlineData("task", "--window", "--window 5: does not apply to a synthetic task")]
    [InlineData("csv", "--seq-len", "--seq-len 5: does not apply to --csv")]
    [InlineData("text", "--horizon", "--horizon 5: does not apply to --text")]
    [InlineData("text", "--normalize", "--normalize none: does not apply to --text")]
    public void AnOptionOfAnotherSource_IsRejected(string source, string option, string message)
    {
        var selection = source switch
        {
            "task" => new DataSelection { Task = "sine" },
            "csv" => new DataSelection { Csv = "a.csv", Target = "y" },
            _ => new DataSelection { Text = "a.txt" },
        };
        selection = option switch
        {
            "--target" => selection with { Target = "y" },
            "--window" => selection with { Window = 5 },
            "--seq-len" => selection with { SeqLen = 5 },
            "--horizon" => selection with { Horizon = 5 },
            _ => selection with { Normalize = "none" },
        };
        Assert.True(selection.AnyGiven);
        Assert.Equal(message, Assert.Throws<LstmException>(() => selection.ToSpec()).Message);
    }

    [Fact]
    public void OnABasis_KeepsItsValues_AndReplacesThoseGiven()
    {
        var basis = new DataSpec { Source = "csv", Path = "train.csv", Targets = ["y"], Window = 7, Seed = 9 };
        var spec = new DataSelection { Csv = "other.csv" }.ToSpec(basis);
        Assert.Equal(basis with { Path = "other.csv", Task = null }, spec);
        var task = new DataSelection { SeqLen = 30 }.ToSpec(new DataSpec { Task = "adding", Seed = 4 });
        Assert.Equal(new DataSpec { Task = "adding", SeqLen = 30, Seed = 4 }, task);
    }

    [Fact]
    public void TheSpecIsValidated()
    {
        var e = Assert.Throws<LstmException>(() => new DataSelection { Task = " Nope " }.ToSpec());
        Assert.StartsWith("--task nope: unknown task", e.Message);
    }
}
