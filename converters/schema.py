"""What EventLab reads from each input format: collections, their kind, and branch candidates.

Branch names differ between releases, so every field lists candidate names; the reader takes the
first one a file has. PHYSLITE fields are in MeV and mm; education ntuples of the `analysis` tree
are in GeV, those of the older `mini` tree in MeV.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PHYSLITE_TREE = "CollectionTree"  # PHYSLITE stored as a TTree
PHYSLITE_RNTUPLE = "EventData"  # PHYSLITE stored as an RNTuple
NTUPLE_TREES = {"analysis": 1000.0, "mini": 1.0}  # tree name -> factor to MeV

# Source codes of the MET_Core soft terms (MissingETBase::Source bit patterns).
MET_SOFT_TRACK_SOURCE = 81952
MET_SOFT_CLUSTER_SOURCE = 69664

# DL1dv01 b-tagging: discriminant = ln(pb / (fc pc + (1 - fc) pu)), 77 % efficiency working point.
DL1D_CHARM_FRACTION = 0.018
DL1D_77_CUT = 2.456


@dataclass(frozen=True)
class Naming:
    """How a storage layout spells the variable `leaf` of the container `name`.

    TTrees write `AnalysisMuonsAuxDyn.pt` (or, in older releases, the split `EventInfoAux./
    EventInfoAux.eventNumber`); RNTuples write `AnalysisMuonsAuxDyn:pt` and keep the static
    variables as sub-fields of one record field, `EventInfoAux:.eventNumber`. TTrees may split
    an element link into `.m_persKey` / `.m_persIndex` sub-branches; RNTuples store it as one
    field of `{m_persKey, m_persIndex}` records.
    """

    dynamic: str
    static: tuple[str, ...]
    split_links: bool

    def candidates(self, name: str, leaf: str) -> list[str]:
        """Names to try for one variable, the dynamic (AuxDyn) one first."""
        patterns = (self.dynamic, *self.static)
        return [pattern.format(name=name, leaf=leaf) for pattern in patterns]

    def link(self, name: str, leaf: str) -> str:
        """The name of an element-link variable (dynamic, as PHYSLITE keeps every link)."""
        return self.dynamic.format(name=name, leaf=leaf)


TTREE_NAMING = Naming(
    dynamic="{name}AuxDyn.{leaf}",
    static=("{name}Aux./{name}Aux.{leaf}", "{name}Aux.{leaf}"),
    split_links=True,
)
RNTUPLE_NAMING = Naming(
    dynamic="{name}AuxDyn:{leaf}", static=("{name}Aux:.{leaf}",), split_links=False
)


@dataclass(frozen=True)
class Link:
    """An element link of a collection to objects of another collection."""

    branch: str  # the link's name in the AuxDyn container, e.g. "inDetTrackParticleLink"
    target: str  # the collection it points into


@dataclass(frozen=True)
class CollectionSpec:
    """One PHYSLITE container: its kind and the fields EventLab reads from it."""

    name: str
    kind: str  # track | jet | electron | muon | photon | tau | cluster | vertex
    fields: dict[str, tuple[str, ...]]  # our field name -> candidate branch field names
    links: tuple[Link, ...] = ()
    optional_fields: tuple[str, ...] = ()
    cone_radius: float = 0.4
    reach: str = "inner"  # tracks: how far they are drawn (inner detector or muon system)

    def branch_candidates(self, field_name: str, naming: Naming) -> list[str]:
        """Full branch (or field) names to try, AuxDyn first, then the static Aux ones."""
        return [
            name for leaf in self.fields[field_name] for name in naming.candidates(self.name, leaf)
        ]


TRACK_FIELDS = {
    "d0": ("d0",),
    "z0": ("z0",),
    "phi": ("phi", "phi0"),
    "theta": ("theta",),
    "qop": ("qOverP",),
}
FOUR_MOMENTUM = {"pt": ("pt",), "eta": ("eta",), "phi": ("phi",), "m": ("m",)}
CLUSTER_FIELDS = {"e": ("calE", "e"), "eta": ("calEta", "eta"), "phi": ("calPhi", "phi")}

PHYSLITE_COLLECTIONS: tuple[CollectionSpec, ...] = (
    CollectionSpec("InDetTrackParticles", "track", TRACK_FIELDS),
    CollectionSpec(
        "GSFTrackParticles",
        "track",
        TRACK_FIELDS,
        links=(Link("originalTrackParticle", "InDetTrackParticles"),),
    ),
    CollectionSpec("CombinedMuonTrackParticles", "track", TRACK_FIELDS, reach="muon"),
    CollectionSpec("ExtrapolatedMuonTrackParticles", "track", TRACK_FIELDS, reach="muon"),
    CollectionSpec("MuonSpectrometerTrackParticles", "track", TRACK_FIELDS, reach="muon"),
    CollectionSpec(
        "AnalysisJets",
        "jet",
        FOUR_MOMENTUM,
        links=(Link("btaggingLink", "BTagging_AntiKt4EMPFlow"),),
    ),
    CollectionSpec("AnalysisLargeRJets", "jet", FOUR_MOMENTUM, cone_radius=1.0),
    CollectionSpec(
        "AnalysisTauJets",
        "tau",
        {**FOUR_MOMENTUM, "charge": ("charge",)},
        cone_radius=0.2,
    ),
    CollectionSpec(
        "AnalysisElectrons",
        "electron",
        {**FOUR_MOMENTUM, "charge": ("charge",)},
        links=(
            Link("trackParticleLinks", "GSFTrackParticles"),
            Link("caloClusterLinks", "egammaClusters"),
        ),
    ),
    CollectionSpec(
        "AnalysisMuons",
        "muon",
        {**FOUR_MOMENTUM, "charge": ("charge",)},
        links=(
            Link("combinedTrackParticleLink", "CombinedMuonTrackParticles"),
            Link("inDetTrackParticleLink", "InDetTrackParticles"),
            Link("extrapolatedMuonSpectrometerTrackParticleLink", "ExtrapolatedMuonTrackParticles"),
            Link("muonSpectrometerTrackParticleLink", "MuonSpectrometerTrackParticles"),
        ),
        optional_fields=("m",),
    ),
    CollectionSpec(
        "AnalysisPhotons",
        "photon",
        FOUR_MOMENTUM,
        links=(Link("caloClusterLinks", "egammaClusters"),),
    ),
    CollectionSpec("egammaClusters", "cluster", CLUSTER_FIELDS),
    CollectionSpec("CaloCalTopoClusters", "cluster", CLUSTER_FIELDS),
    CollectionSpec(
        "PrimaryVertices",
        "vertex",
        {"x": ("x",), "y": ("y",), "z": ("z",), "vertex_type": ("vertexType",)},
    ),
)

BTAGGING = CollectionSpec(
    "BTagging_AntiKt4EMPFlow",
    "btagging",
    {"pb": ("DL1dv01_pb",), "pc": ("DL1dv01_pc",), "pu": ("DL1dv01_pu",)},
)
MET_CORE = CollectionSpec(
    "MET_Core_AnalysisMET", "met", {"mpx": ("mpx",), "mpy": ("mpy",), "source": ("source",)}
)

EVENT_INFO_FIELDS: dict[str, tuple[str, ...]] = {
    "run": ("runNumber",),
    "event": ("eventNumber",),
    "lumi_block": ("lumiBlock",),
    "mc_channel": ("mcChannelNumber",),
    "weight": ("mcEventWeights",),
}


# Per-event weights the columns keep besides the first MC weight ("weight"): PHYSLITE's pileup
# and beam-spot weights, by column name.
PHYSLITE_WEIGHTS: dict[str, tuple[str, ...]] = {
    "pileup_weight": ("PileupWeight_NOSYS",),
    "beamspot_weight": ("beamSpotWeight",),
}
# Education-ntuple branches the columns keep under their own names, so that a columns file of
# simulation can be scaled to a luminosity as the ATLAS notebooks do: the MC weight, the 2020
# (XSection, SumWeights) and 2025 (xsec, kfac, filteff, sum_of_weights) normalisation, and every
# scale factor (scaleFactor_* in 2020, ScaleFactor_* in 2025).
NTUPLE_WEIGHTS = ("mcWeight", "XSection", "SumWeights", "xsec", "kfac", "filteff", "sum_of_weights")
NTUPLE_SCALE_FACTOR_PREFIXES = ("scaleFactor_", "ScaleFactor_")


def ntuple_weight_branches(names: set[str]) -> list[str]:
    """The weight and normalisation branches of an education ntuple, in a stable order."""
    factors = sorted(n for n in names if n.startswith(NTUPLE_SCALE_FACTOR_PREFIXES))
    return [name for name in NTUPLE_WEIGHTS if name in names] + factors


def event_info_candidates(leaf_names: tuple[str, ...], naming: Naming) -> list[str]:
    """Full branch (or field) names of an EventInfo variable across releases and layouts."""
    return [name for leaf in leaf_names for name in naming.candidates("EventInfo", leaf)]


@dataclass(frozen=True)
class NtupleSpec:
    """Branch candidates of the ATLAS education ntuples (one flat tree, lists per object)."""

    leptons: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {
            "pt": ("lep_pt",),
            "eta": ("lep_eta",),
            "phi": ("lep_phi",),
            "e": ("lep_e", "lep_E"),
            "charge": ("lep_charge",),
            "type": ("lep_type",),
        }
    )
    jets: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {
            "pt": ("jet_pt",),
            "eta": ("jet_eta",),
            "phi": ("jet_phi",),
            "e": ("jet_e", "jet_E"),
        }
    )
    jet_btag: tuple[str, ...] = ("jet_btag", "jet_btag_quantile", "jet_MV2c10")
    photons: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {
            "pt": ("photon_pt",),
            "eta": ("photon_eta",),
            "phi": ("photon_phi",),
            "e": ("photon_e", "photon_E"),
        }
    )
    met: tuple[str, ...] = ("met", "met_et")
    met_phi: tuple[str, ...] = ("met_phi",)
    info: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {
            "run": ("runNumber",),
            "event": ("eventNumber",),
            "mc_channel": ("channelNumber", "mcChannelNumber"),
            "weight": ("mcWeight", "totalWeight"),
        }
    )


NTUPLE = NtupleSpec()
