using System.Text.Json;
using System.Text.Json.Serialization;

namespace Hermes.Contracts;

/// <summary>
/// Source-generated JSON for the contracts: camelCase (the web defaults), absent parts left out, no reflection on
/// either side. <c>Dictionary&lt;string, long&gt;</c> is the shape of <c>GET /aggregates</c>.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(StatsSnapshot))]
[JsonSerializable(typeof(Dictionary<string, long>))]
public sealed partial class ContractsJsonContext : JsonSerializerContext;
