"""``$metadata`` (EDMX, CSDL v3, namespace ``StandardODATA``) and the Atom service document, generated from
the configuration the way 1C builds them (reference §1.1): an EntityType per object and per tabular
section, a ComplexType ``<Set>_<Tab>_RowType`` per tabular section, navigation properties for references,
and the bound ``Post``/``Unpost`` function imports of documents."""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

from sandbox.onec.config import BP30, Attr, Configuration, ObjectType


def _prop(name: str, edm: str, nullable: bool = True, max_length: int | None = None) -> str:
    extra = "" if nullable else ' Nullable="false"'
    if max_length:
        extra += f' MaxLength="{max_length}"'
    return f"<Property Name={quoteattr(name)} Type={quoteattr(edm)}{extra}/>"


def _attr_props(attrs: tuple[Attr, ...]) -> list[str]:
    lines = []
    for attr in attrs:
        for name, edm in attr.properties:
            length = attr.length if attr.kind == "string" and name == attr.name and attr.length else None
            lines.append(_prop(name, edm, max_length=length))
    return lines


def _entity(t: ObjectType) -> list[str]:
    lines = [f"<EntityType Name={quoteattr(t.set_name)}>", '<Key><PropertyRef Name="Ref_Key"/></Key>']
    for name, edm, length in t.standard():
        lines.append(_prop(name, edm, nullable=False, max_length=length))
    lines += _attr_props(t.attrs)
    for tab in t.tables:
        lines.append(_prop(tab, f"Collection(StandardODATA.{t.set_name}_{tab}_RowType)", nullable=False))
    for nav in t.navigation():
        lines.append(f'<NavigationProperty Name={quoteattr(nav)} Relationship="StandardODATA.{t.set_name}_{nav}" '
                     'FromRole="Begin" ToRole="End"/>')
    lines.append("</EntityType>")
    for tab, attrs in t.tables.items():
        row_props = [_prop("Ref_Key", "Edm.Guid", nullable=False), _prop("LineNumber", "Edm.Int64", nullable=False),
                     *_attr_props(attrs)]
        lines += [f"<EntityType Name={quoteattr(f'{t.set_name}_{tab}')}>",
                  '<Key><PropertyRef Name="Ref_Key"/><PropertyRef Name="LineNumber"/></Key>', *row_props,
                  "</EntityType>",
                  f"<ComplexType Name={quoteattr(f'{t.set_name}_{tab}_RowType')}>", *row_props[1:], "</ComplexType>"]
    return lines


def _associations(t: ObjectType) -> list[str]:
    lines = []
    for nav, target in t.navigation().items():
        name = f"{t.set_name}_{nav}"
        lines += [f"<Association Name={quoteattr(name)}>",
                  f'<End Role="Begin" Type="StandardODATA.{t.set_name}" Multiplicity="*"/>',
                  f'<End Role="End" Type="StandardODATA.{target}" Multiplicity="0..1"/>', "</Association>"]
    return lines


def metadata_xml(config: Configuration = BP30) -> str:
    body: list[str] = []
    container: list[str] = []
    for enum, members in config.enums.items():
        body.append(f'<EnumType Name={quoteattr(enum)} UnderlyingType="Edm.Int32">'
                    + "".join(f'<Member Name={quoteattr(m)} Value="{n}"/>' for n, m in enumerate(members))
                    + "</EnumType>")
    for t in config.types:
        body += _entity(t)
        body += _associations(t)
        container.append(f"<EntitySet Name={quoteattr(t.set_name)} EntityType=\"StandardODATA.{t.set_name}\"/>")
        for tab in t.tables:
            set_name = f"{t.set_name}_{tab}"
            container.append(f"<EntitySet Name={quoteattr(set_name)} EntityType=\"StandardODATA.{set_name}\"/>")
        for nav, target in t.navigation().items():
            container.append(f'<AssociationSet Name="{t.set_name}_{nav}" '
                             f'Association="StandardODATA.{t.set_name}_{nav}">'
                             f'<End Role="Begin" EntitySet="{t.set_name}"/><End Role="End" EntitySet="{target}"/>'
                             "</AssociationSet>")
        if t.kind == "Document":
            container.append(f'<FunctionImport Name="Post" m:HttpMethod="POST" IsBindable="true" '
                             f'EntitySetPath="{t.set_name}"><Parameter Name="PostingModeOperational" '
                             'Type="Edm.Boolean" Nullable="true" Mode="In"/></FunctionImport>')
            container.append(f'<FunctionImport Name="Unpost" m:HttpMethod="POST" IsBindable="true" '
                             f'EntitySetPath="{t.set_name}"/>')
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<edmx:Edmx xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx" Version="1.0">'
            '<edmx:DataServices xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata" '
            'm:DataServiceVersion="3.0">'
            '<Schema xmlns="http://schemas.microsoft.com/ado/2009/11/edm" Namespace="StandardODATA">'
            + "".join(body)
            + '<EntityContainer Name="StandardODATA" m:IsDefaultEntityContainer="true">'
            + "".join(container)
            + "</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>")


def service_document(base: str, config: Configuration = BP30) -> str:
    collections = []
    for t in config.types:
        for name in [t.set_name, *(f"{t.set_name}_{tab}" for tab in t.tables)]:
            collections.append(f"<collection href={quoteattr(name)}><atom:title>{name}</atom:title></collection>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<service xmlns="http://www.w3.org/2007/app" xmlns:atom="http://www.w3.org/2005/Atom" '
            f"xml:base={quoteattr(base)}><workspace><atom:title>Default</atom:title>"
            + "".join(collections) + "</workspace></service>")
