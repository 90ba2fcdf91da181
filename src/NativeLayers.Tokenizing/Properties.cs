using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("NativeLayers.Tokenizing.Tests")]
