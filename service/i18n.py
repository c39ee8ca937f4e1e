"""Interface languages: the reader's language, UI strings in English and French, numbers.

Contract:

* :func:`choose_language` picks ``en`` or ``fr``: ``?lang=`` first, then the ``lang``
  cookie, then ``Accept-Language`` (q-values), else English. Anything else is ignored.
* :data:`UI` holds every interface string in both languages (same keys); :func:`text`
  looks one up. Templates get the table of the page language as ``ui``.
* :data:`TERM_LABELS` names the external vocabulary terms the ontology does not label
  (``rdf:type``, ``prov:wasDerivedFrom``…) in both languages, with a short definition.
* :func:`format_number` writes a numeric lexical form the way the language writes numbers.

>>> choose_language("fr", None, None)
'fr'
>>> choose_language("xx", "fr", "en-GB,en;q=0.9")
'fr'
>>> choose_language(None, None, "de, fr;q=0.8, en;q=0.5")
'fr'
>>> choose_language(None, None, None)
'en'
>>> format_number("230810", "en"), format_number("230810", "fr")
('230,810', '230\\u202f810')
>>> format_number("12.5", "fr")
'12,5'
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from service.iris import EXTERNAL_PREFIXES

__all__ = ["LANGS", "DEFAULT_LANG", "COOKIE", "UI", "TERM_LABELS", "choose_language", "text",
           "format_number", "ordinal", "other_language"]

#: The interface languages, default first.
LANGS: tuple[str, ...] = ("en", "fr")
DEFAULT_LANG = "en"
#: The cookie that remembers the reader's choice.
COOKIE = "lang"


def choose_language(asked: str | None, cookie: str | None, accept: LanguageAccept | str | None) -> str:
    """The page language: ``asked`` (``?lang=``), else ``cookie``, else ``Accept-Language``, else English.

    :param asked: the ``lang`` request parameter, if any.
    :param cookie: the ``lang`` cookie, if any.
    :param accept: the request's ``Accept-Language`` (parsed or raw).
    :returns: one of :data:`LANGS`.
    """
    for choice in (asked, cookie):
        if choice and choice.strip().lower() in LANGS:
            return choice.strip().lower()
    parsed = accept if isinstance(accept, LanguageAccept) else parse_accept_header(accept or "", LanguageAccept)
    # By quality, on the primary subtag: "fr-CA" is French even when "en;q=0.2" is also listed.
    for value, quality in sorted(parsed, key=lambda item: -item[1]):
        primary = value.split("-", 1)[0].strip().lower()
        if quality > 0 and primary in LANGS:
            return primary
    return DEFAULT_LANG


def other_language(lang: str) -> str:
    """The other interface language (the fallback for labels).

    >>> other_language("fr")
    'en'
    """
    return "fr" if lang == "en" else "en"


def format_number(lexical: str, lang: str, *, grouping: bool = True) -> str:
    """A number's lexical form (``xsd:integer``/``decimal``/``double``) as ``lang`` writes it.

    English groups thousands with commas and uses a decimal point; French groups with a
    narrow no-break space and uses a decimal comma. Text that is not a number is returned as is.

    >>> format_number("2019", "en", grouping=False)
    '2019'
    >>> format_number("-1234.50", "en")
    '-1,234.50'
    >>> format_number("n/a", "en")
    'n/a'
    """
    try:
        number = Decimal(lexical.strip())
    except InvalidOperation:
        return lexical
    if not number.is_finite():
        return lexical
    if number == number.to_integral_value() and "e" in lexical.lower():
        number = number.quantize(Decimal(1))
    text = f"{number:,}" if grouping else f"{number}"
    if "E" in text:  # very large or small doubles: keep the scientific form
        return lexical
    if lang == "fr":
        text = text.replace(",", "\u202f").replace(".", ",")
    return text


def ordinal(n: int, lang: str) -> str:
    """An ordinal number: ``19th`` in English, ``19e`` in French.

    >>> ordinal(21, "en"), ordinal(1, "fr"), ordinal(12, "en")
    ('21st', '1er', '12th')
    """
    if lang == "fr":
        return f"{n}er" if n == 1 else f"{n}e"
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def text(key: str, lang: str) -> str:
    """One interface string in ``lang`` (English when the language is unknown).

    :raises KeyError: for an unknown key (a bug: every key exists in both languages).
    """
    return UI.get(lang, UI[DEFAULT_LANG])[key]


_EN: dict[str, str] = {
    "site": "territory-kg", "tagline": "Knowledge graph of the Hauts-de-France economy",
    "home": "Home", "sparql": "SPARQL", "api": "API", "search": "Search",
    "language": "Language", "switch_to": "Français", "switch_hint": "Lire cette page en français",
    "licence": "Data licensed CC BY 4.0", "code_licence": "code MIT",
    "iri": "IRI", "copy_label": "Copy", "copied": "Copied", "formats": "Download this description",
    "types": "Types", "properties": "Properties", "what_points_here": "What points here",
    "what_points_here_hint": "Resources whose properties have this one as value, grouped by property.",
    "group_identity": "Identity and labels", "group_figure": "Figure", "group_classification": "Classification",
    "group_location": "Location and containment", "group_relationships": "Relationships",
    "group_provenance": "Provenance", "group_other": "Other properties",
    "showing": "showing {first}–{last} of {total}", "previous": "previous", "next": "next",
    "page_n": "page {page} of {pages}", "more_values": "{n} more values",
    "figures": "Figures", "figures_hint": "Every figure about this resource, with where it comes from.",
    "indicator": "Indicator", "value": "Value", "period": "Period", "area": "Area", "source": "Source",
    "industry": "Industry", "organisation": "Organisation", "stated": "as stated",
    "where_from": "Where it comes from", "quote": "Quoted sentence", "characters": "characters {start}–{end}",
    "document": "Document", "sha256": "SHA-256", "cited_source": "Cited source", "publisher": "Publisher",
    "citation_as_stated": "Citation as written", "no_citation": "The text cites no source.",
    "cite_this": "Cite this", "record": "Official data record", "record_key": "record {key}",
    "quality": "Quality", "chart": "Comparable figures", "chart_own": "{indicator} ({unit})", "chart_shares": "Shares (%)",
    "chart_parts": "{indicator} of the places within ({unit})", "chart_top": "the {shown} largest of {total}",
    "neighbourhood": "Neighbourhood", "neighbourhood_hint": "Clusters, organisations, industries and places "
    "linked to this resource. Select a node to open its page.",
    "excerpt_of": "Excerpt of", "figures_from_excerpt": "Figures quoted from this excerpt",
    "document_text": "Full text", "document_text_hint": "Highlighted passages are the excerpts the graph "
    "quotes; select one to open it.", "document_unverified": "The copy on this server does not match the "
    "document's SHA-256: its text is not shown.",
    "not_found_title": "Not found", "not_found": "There is no resource with this IRI in the graph.",
    "not_found_hint": "Check the address, or search the graph.", "figure_of": "Figure",
    "truncated": "truncated", "rdf_formats": "RDF", "html": "HTML", "definition": "Definition",
    "no_label": "(no label)", "listed_above": "{n} figures are listed above.",
    "statement_source": "stated in the source", "unit": "Unit",
    "fmt_ttl": "Turtle", "fmt_nt": "N-Triples", "fmt_rdf": "RDF/XML", "fmt_jsonld": "JSON-LD",
    "cite_template": "{label}. In: territory-kg, knowledge graph of the Hauts-de-France economy "
    "(version {version}). {iri}. Quoting {document}{characters}{cited}. Licence CC BY 4.0.",
    "cite_characters": ", characters {start}–{end}", "cite_cited": "; cited source: {source}",
    "kind_cluster": "cluster or centre", "kind_company": "company", "kind_organisation": "organisation",
    "kind_industry": "industry", "kind_territory": "territory", "kind_site": "site", "kind_programme": "programme",
    "kind_label": "label", "skip": "Skip to content", "classes": "Classes", "ontology": "Ontology",
    "breadcrumbs": "Breadcrumbs",
}

_FR: dict[str, str] = {
    "site": "territory-kg", "tagline": "Graphe de connaissances de l'économie des Hauts-de-France",
    "home": "Accueil", "sparql": "SPARQL", "api": "API", "search": "Recherche",
    "language": "Langue", "switch_to": "English", "switch_hint": "Read this page in English",
    "licence": "Données sous licence CC BY 4.0", "code_licence": "code MIT",
    "iri": "IRI", "copy_label": "Copier", "copied": "Copié", "formats": "Télécharger cette description",
    "types": "Types", "properties": "Propriétés", "what_points_here": "Ce qui pointe ici",
    "what_points_here_hint": "Les ressources dont une propriété a celle-ci pour valeur, par propriété.",
    "group_identity": "Identité et libellés", "group_figure": "Chiffre", "group_classification": "Classification",
    "group_location": "Localisation et inclusion", "group_relationships": "Relations",
    "group_provenance": "Provenance", "group_other": "Autres propriétés",
    "showing": "{first} à {last} sur {total}", "previous": "précédents", "next": "suivants",
    "page_n": "page {page} sur {pages}", "more_values": "{n} autres valeurs",
    "figures": "Chiffres", "figures_hint": "Tous les chiffres sur cette ressource, avec leur origine.",
    "indicator": "Indicateur", "value": "Valeur", "period": "Période", "area": "Zone", "source": "Source",
    "industry": "Secteur", "organisation": "Organisation", "stated": "tel qu'écrit",
    "where_from": "D'où vient ce chiffre", "quote": "Phrase citée", "characters": "caractères {start} à {end}",
    "document": "Document", "sha256": "SHA-256", "cited_source": "Source citée", "publisher": "Éditeur",
    "citation_as_stated": "Citation telle qu'écrite", "no_citation": "Le texte ne cite pas de source.",
    "cite_this": "Citer", "record": "Enregistrement de données officielles", "record_key": "enregistrement {key}",
    "quality": "Qualité", "chart": "Chiffres comparables", "chart_own": "{indicator} ({unit})", "chart_shares": "Parts (%)",
    "chart_parts": "{indicator} des lieux inclus ({unit})", "chart_top": "les {shown} plus grands sur {total}",
    "neighbourhood": "Voisinage", "neighbourhood_hint": "Pôles, organisations, secteurs et lieux liés à "
    "cette ressource. Choisissez un nœud pour ouvrir sa page.",
    "excerpt_of": "Extrait de", "figures_from_excerpt": "Chiffres cités de cet extrait",
    "document_text": "Texte intégral", "document_text_hint": "Les passages surlignés sont les extraits "
    "que cite le graphe ; choisissez-en un pour l'ouvrir.", "document_unverified": "La copie de ce serveur "
    "ne correspond pas au SHA-256 du document : son texte n'est pas affiché.",
    "not_found_title": "Introuvable", "not_found": "Aucune ressource du graphe n'a cet IRI.",
    "not_found_hint": "Vérifiez l'adresse ou cherchez dans le graphe.", "figure_of": "Chiffre",
    "truncated": "tronqué", "rdf_formats": "RDF", "html": "HTML", "definition": "Définition",
    "no_label": "(sans libellé)", "listed_above": "{n} chiffres sont listés plus haut.",
    "statement_source": "énoncé dans la source", "unit": "Unité",
    "fmt_ttl": "Turtle", "fmt_nt": "N-Triples", "fmt_rdf": "RDF/XML", "fmt_jsonld": "JSON-LD",
    "cite_template": "{label}. Dans : territory-kg, graphe de connaissances de l'économie des "
    "Hauts-de-France (version {version}). {iri}. Citant {document}{characters}{cited}. Licence CC BY 4.0.",
    "cite_characters": ", caractères {start} à {end}", "cite_cited": " ; source citée : {source}",
    "kind_cluster": "pôle ou centre", "kind_company": "entreprise", "kind_organisation": "organisation",
    "kind_industry": "secteur", "kind_territory": "territoire", "kind_site": "site", "kind_programme": "programme",
    "kind_label": "label", "skip": "Aller au contenu", "classes": "Classes", "ontology": "Ontologie",
    "breadcrumbs": "Fil d'Ariane",
}

#: Interface strings by language; both tables have the same keys.
UI: dict[str, dict[str, str]] = {"en": _EN, "fr": _FR}


def _iri(curie: str) -> str:
    prefix, _, local = curie.partition(":")
    extra = {"sdmx-dimension": "http://purl.org/linked-data/sdmx/2009/dimension#",
             "sdmx-measure": "http://purl.org/linked-data/sdmx/2009/measure#",
             "sdmx-attribute": "http://purl.org/linked-data/sdmx/2009/attribute#",
             "qudt": "http://qudt.org/schema/qudt/", "foaf": "http://xmlns.com/foaf/0.1/",
             "hydra": "http://www.w3.org/ns/hydra/core#"}
    return {**EXTERNAL_PREFIXES, **extra}[prefix] + local


_TERMS: tuple[tuple[str, str, str, str], ...] = (
    # CURIE, English label, French label, English definition (shown on hover)
    ("rdf:type", "type", "type", "The classes the resource is an instance of."),
    ("rdfs:label", "label", "libellé", "A human-readable name."),
    ("rdfs:comment", "comment", "commentaire", "A human-readable description."),
    ("rdfs:seeAlso", "see also", "voir aussi", "A resource that may say more."),
    ("rdfs:isDefinedBy", "defined by", "défini par", "The vocabulary that defines the term."),
    ("skos:prefLabel", "preferred label", "libellé préféré", "The preferred name of the concept."),
    ("skos:altLabel", "alternative label", "autre libellé", "Another name in use."),
    ("skos:notation", "code", "code", "A code identifying the resource within its scheme."),
    ("skos:definition", "definition", "définition", "What the concept means."),
    ("skos:editorialNote", "editorial note", "note éditoriale", "A note by the curators."),
    ("skos:example", "example", "exemple", "An example of use."),
    ("skos:inScheme", "in scheme", "dans le schéma", "The concept scheme the concept belongs to."),
    ("skos:broader", "broader", "plus large", "A more general concept."),
    ("skos:narrower", "narrower", "plus précis", "A more specific concept."),
    ("skos:broaderTransitive", "broader (transitive)", "plus large (transitif)",
     "Every more general concept, directly or not."),
    ("skos:narrowerTransitive", "narrower (transitive)", "plus précis (transitif)",
     "Every more specific concept, directly or not."),
    ("skos:topConceptOf", "top concept of", "concept de tête de", "The scheme the concept heads."),
    ("skos:hasTopConcept", "top concept", "concept de tête", "A concept at the top of the scheme."),
    ("skos:exactMatch", "same as", "équivalent exact", "The same concept in another dataset."),
    ("skos:closeMatch", "close match", "équivalent proche", "A close concept in another dataset."),
    ("skos:broadMatch", "broader match", "équivalent plus large", "A broader concept in another dataset."),
    ("skos:narrowMatch", "narrower match", "équivalent plus précis", "A narrower concept in another dataset."),
    ("dcterms:title", "title", "titre", "The name given to the resource."),
    ("dcterms:description", "description", "description", "An account of the resource."),
    ("dcterms:identifier", "identifier", "identifiant", "An unambiguous reference to the resource."),
    ("dcterms:source", "source", "source", "The resource this one is derived from."),
    ("dcterms:publisher", "publisher", "éditeur", "Who makes the resource available."),
    ("dcterms:license", "licence", "licence", "The legal document giving permission to use it."),
    ("dcterms:format", "format", "format", "The file format."),
    ("dcterms:language", "language", "langue", "The language of the resource."),
    ("dcterms:type", "type", "type", "The nature or genre of the resource."),
    ("schema:description", "description", "description", "A description of the item."),
    ("schema:containedInPlace", "contained in place", "situé dans", "A place that contains this one."),
    ("prov:wasDerivedFrom", "derived from", "dérivé de", "What this was transformed from or quoted from."),
    ("prov:wasQuotedFrom", "quoted from", "cité de", "The document the quote is taken from."),
    ("prov:hadPrimarySource", "primary source", "source primaire", "The source the text cites for it."),
    ("prov:wasGeneratedBy", "generated by", "produit par", "The activity that produced it."),
    ("prov:wasAttributedTo", "attributed to", "attribué à", "Who is responsible for it."),
    ("prov:used", "used", "a utilisé", "What the activity used."),
    ("prov:wasAssociatedWith", "associated with", "associé à", "Who carried out the activity."),
    ("oa:exact", "exact text", "texte exact", "The quoted text, character for character."),
    ("oa:prefix", "text before", "texte avant", "The text just before the quote."),
    ("oa:suffix", "text after", "texte après", "The text just after the quote."),
    ("oa:start", "start offset", "position de début", "Where the quote starts (Unicode code points)."),
    ("oa:end", "end offset", "position de fin", "Where the quote ends, exclusive (Unicode code points)."),
    ("qb:dataSet", "data set", "jeu de données", "The Data Cube data set the observation belongs to."),
    ("qb:structure", "structure", "structure", "The structure of the data set."),
    ("org:subOrganizationOf", "part of organisation", "sous-organisation de",
     "The organisation this one is part of."),
    ("org:hasSite", "has site", "a pour site", "A site of the organisation."),
    ("owl:versionInfo", "version", "version", "The version of the resource."),
    ("owl:sameAs", "same as", "identique à", "The same thing under another IRI."),
    ("rdf:subject", "subject", "sujet", "The subject of the stated triple."),
    ("rdf:predicate", "predicate", "prédicat", "The property of the stated triple."),
    ("rdf:object", "object", "objet", "The value of the stated triple."),
    ("sdmx-dimension:refArea", "reference area (SDMX)", "zone de référence (SDMX)",
     "The Data Cube super-property of eco:refArea."),
    ("sdmx-dimension:refPeriod", "reference period (SDMX)", "période de référence (SDMX)",
     "The Data Cube super-property of eco:refPeriod."),
    ("sdmx-measure:obsValue", "observed value (SDMX)", "valeur observée (SDMX)",
     "The Data Cube super-property of eco:obsValue."),
    ("sdmx-attribute:unitMeasure", "unit of measure (SDMX)", "unité de mesure (SDMX)",
     "The Data Cube super-property of eco:unit."),
    ("qudt:symbol", "symbol", "symbole", "The symbol of the unit."),
    ("foaf:primaryTopic", "primary topic", "sujet principal", "What the document is about."),
    ("void:sparqlEndpoint", "SPARQL endpoint", "point d'accès SPARQL", "Where the data can be queried."),
    ("void:triples", "triples", "triplets", "The number of triples."),
    ("schema:Place", "Place (schema.org)", "Lieu (schema.org)", "schema.org: entities with a physical extension."),
    ("schema:AdministrativeArea", "Administrative area (schema.org)", "Zone administrative (schema.org)",
     "schema.org: a geographical region under the jurisdiction of a government."),
    ("schema:Organization", "Organisation (schema.org)", "Organisation (schema.org)", "schema.org: an organisation."),
    ("schema:CreativeWork", "Creative work (schema.org)", "Œuvre (schema.org)", "schema.org: a creative work."),
    ("geo:Feature", "Feature (GeoSPARQL)", "Entité géographique (GeoSPARQL)", "GeoSPARQL: a spatial thing."),
    ("prov:Entity", "Entity (PROV)", "Entité (PROV)", "PROV-O: a thing with some fixed aspects."),
    ("prov:Agent", "Agent (PROV)", "Agent (PROV)", "PROV-O: something bearing responsibility for an activity."),
    ("prov:Activity", "Activity (PROV)", "Activité (PROV)", "PROV-O: something that occurs over a period of time."),
    ("qb:Observation", "Observation (Data Cube)", "Observation (Data Cube)", "Data Cube: a single observation."),
    ("qb:DataSet", "Data set (Data Cube)", "Jeu de données (Data Cube)", "Data Cube: a collection of observations."),
    ("skos:Concept", "Concept (SKOS)", "Concept (SKOS)", "SKOS: an idea or notion; a unit of thought."),
    ("skos:ConceptScheme", "Concept scheme (SKOS)", "Schéma de concepts (SKOS)", "SKOS: a set of concepts."),
    ("org:Organization", "Organisation (ORG)", "Organisation (ORG)", "W3C ORG: a collection of people."),
    ("org:FormalOrganization", "Formal organisation (ORG)", "Organisation formelle (ORG)",
     "W3C ORG: an organisation recognised in the world at large."),
    ("org:OrganizationalUnit", "Organisational unit (ORG)", "Unité organisationnelle (ORG)",
     "W3C ORG: a part of an organisation."),
    ("org:Site", "Site (ORG)", "Site (ORG)", "W3C ORG: an office or other premise."),
    ("time:ProperInterval", "Interval (OWL-Time)", "Intervalle (OWL-Time)", "OWL-Time: a temporal interval."),
    ("oa:TextQuoteSelector", "Text quote selector", "Sélecteur de citation", "Web Annotation: a quote in a text."),
    ("oa:TextPositionSelector", "Text position selector", "Sélecteur de position",
     "Web Annotation: a span of a text by its offsets."),
    ("rdf:Statement", "Statement (RDF)", "Énoncé (RDF)", "A stated triple, reified with its source."),
    ("foaf:Document", "Document", "Document", "FOAF: a document."),
    ("qudt:Unit", "Unit (QUDT)", "Unité (QUDT)", "QUDT: a unit of measure."),
)

#: Labels and definitions of external terms: IRI → {"en": label, "fr": label, "def": definition}.
TERM_LABELS: dict[str, dict[str, str]] = {
    _iri(curie): {"en": en, "fr": fr, "def": definition} for curie, en, fr, definition in _TERMS
}
