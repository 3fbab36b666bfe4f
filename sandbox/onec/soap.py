"""A 1C web service (``/<publication>/ws/CRMExchange.1cws``) as the platform publishes one (reference §5):
a generated WSDL (document/literal wrapped, ``<Op>Response`` with a single ``return``, SOAP 1.1 and 1.2
ports whose address is the host *as 1C sees it*, not as the client reached it), operations with
Cyrillic names, results as a JSON string, and an exception in the module coming back as a SOAP Fault
with ``{ВебСервис.CRMExchange.Модуль(N)}: …`` in the fault string.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from lxml import etree

from sandbox.onec.config import UNDEFINED_TYPE, ZERO_GUID
from sandbox.onec.store import ObjectStore

SERVICE = "CRMExchange"
NAMESPACE = "http://www.buh-demo.ru/crm-exchange"
#: the host the web service's WSDL advertises: 1C's own view of itself, unreachable from outside
INTERNAL_ADDRESS = "http://srv-1c.local/buh/ws/CRMExchange.1cws"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"

Operation = Callable[[dict[str, str | None]], str]


class ModuleError(Exception):
    """An exception raised in the web service's module."""

    def __init__(self, message: str, line: int = 1):
        super().__init__(f"{{ВебСервис.{SERVICE}.Модуль({line})}}: {message}")


@dataclass(frozen=True)
class OperationSpec:
    name: str
    params: tuple[tuple[str, str, bool], ...]  # (name, xsd type, nillable)


OPERATIONS = (
    OperationSpec("Ping", ()),
    OperationSpec("ПолучитьПриходныеКассовыеОрдера",
                  (("ДатаНачала", "xs:dateTime", False), ("ДатаОкончания", "xs:dateTime", True))),
)


@dataclass
class SoapService:
    store: ObjectStore
    #: messages the next calls fail with (a lock conflict, a closed period ...), consumed one per call
    pending_faults: list[str] = field(default_factory=list)

    def wsdl(self) -> bytes:
        return _wsdl().encode("utf-8")

    def handle(self, body: bytes, content_type: str) -> tuple[int, bytes, str]:
        soap12 = "application/soap+xml" in content_type
        envelope_ns = SOAP12 if soap12 else SOAP11
        reply_type = ("application/soap+xml" if soap12 else "text/xml") + ";charset=utf-8"
        try:
            operation, args = _parse(body)
            if self.pending_faults:
                raise ModuleError(self.pending_faults.pop(0), 3)
            result = self._call(operation, args)
        except ModuleError as exc:
            return 500, _fault(envelope_ns, str(exc), soap12), reply_type
        except _ClientFault as exc:
            return 500, _fault(envelope_ns, str(exc), soap12, client=True), reply_type
        xml = (f'<soap:Envelope xmlns:soap="{envelope_ns}"><soap:Body>'
               f'<m:{operation}Response xmlns:m="{NAMESPACE}">'
               f'<m:return xmlns:xs="http://www.w3.org/2001/XMLSchema" '
               f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">{escape(result)}</m:return>'
               f"</m:{operation}Response></soap:Body></soap:Envelope>")
        return 200, xml.encode("utf-8"), reply_type

    def _call(self, operation: str, args: dict[str, str | None]) -> str:
        if operation == "Ping":
            return "OK"
        if operation == "ПолучитьПриходныеКассовыеОрдера":
            return self._cash_receipts(args)
        raise _ClientFault(f"Операция {operation} не найдена")

    def _cash_receipts(self, args: dict[str, str | None]) -> str:
        start = _datetime(args.get("ДатаНачала"), "ДатаНачала")
        end = _datetime(args.get("ДатаОкончания"), "ДатаОкончания") if args.get("ДатаОкончания") else None
        if start is None:
            raise ModuleError("Не задана дата начала периода", 14)
        if end is not None and end < start:
            raise ModuleError("Дата начала периода больше даты окончания", 17)
        documents = []
        with self.store.lock:
            for doc in self.store.all("Document_ПриходныйКассовыйОрдер"):
                when = dt.datetime.fromisoformat(doc["Date"])
                if not doc["Posted"] or doc["DeletionMark"] or when < start or (end is not None and when > end):
                    continue
                documents.append(self._receipt(doc))
        documents.sort(key=lambda d: (d["Дата"], d["Ссылка"]))
        return json.dumps({"Версия": "1.0", "Документы": documents}, ensure_ascii=False)

    def _receipt(self, doc: dict[str, Any]) -> dict[str, Any]:
        payer = None
        if doc.get("Контрагент_Type") == "StandardODATA.Catalog_Контрагенты" and doc.get("Контрагент"):
            payer = self.store.get("Catalog_Контрагенты", doc["Контрагент"])
        rows = doc.get("РасшифровкаПлатежа") or [{}]
        invoice = rows[0].get("СчетНаОплату_Key", ZERO_GUID)
        return {
            # the links as the module writes them: the reference and its type's full name (Метаданные.ПолноеИмя())
            **_link("ДокументОснование", doc.get("ДокументОснование"), doc.get("ДокументОснование_Type")),
            **_link("ДокументРасчетов", rows[0].get("ДокументРасчетовСКонтрагентом"),
                    rows[0].get("ДокументРасчетовСКонтрагентом_Type")),
            "Ссылка": doc["Ref_Key"], "ВерсияДанных": doc["DataVersion"], "Номер": doc["Number"],
            "Дата": doc["Date"], "Сумма": doc["СуммаДокумента"], "Основание": doc["Основание"],
            "ПринятоОт": doc["ПринятоОт"], "КонтрагентСсылка": payer["Ref_Key"] if payer else "",
            "КонтрагентИНН": payer["ИНН"] if payer else "", "КонтрагентКПП": payer["КПП"] if payer else "",
            "КонтрагентНаименование": payer["Description"] if payer else doc["ПринятоОт"],
            "СчетНаОплату": "" if invoice == ZERO_GUID else invoice,
        }


def _link(name: str, ref: str | None, kind: str | None) -> dict[str, str]:
    """A document link in the service's JSON: ``X`` = the reference, ``XТип`` = ``Документ.<name>`` ("" if none)."""
    if not ref or not kind or kind == UNDEFINED_TYPE:
        return {name: "", f"{name}Тип": ""}
    return {name: ref, f"{name}Тип": "Документ." + kind.removeprefix("StandardODATA.Document_")}


class _ClientFault(Exception):
    pass


def _parse(body: bytes) -> tuple[str, dict[str, str | None]]:
    try:
        root = etree.fromstring(body, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise _ClientFault(f"Ошибка разбора XML: {exc}") from None
    soap_body = next((c for c in root if etree.QName(c).localname == "Body"), None)
    call = next(iter(soap_body), None) if soap_body is not None else None
    if call is None or etree.QName(call).namespace != NAMESPACE:
        raise _ClientFault("Неверный формат сообщения SOAP")
    args: dict[str, str | None] = {}
    for child in call:
        nil = child.get("{http://www.w3.org/2001/XMLSchema-instance}nil") in ("true", "1")
        args[etree.QName(child).localname] = None if nil else (child.text or "")
    return etree.QName(call).localname, args


def _datetime(value: str | None, name: str) -> dt.datetime | None:
    if value is None or value == "":
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _ClientFault(f"Неверное значение параметра {name}") from None
    return parsed.replace(tzinfo=None)  # 1C takes xs:dateTime as local wall-clock time


def _fault(ns: str, message: str, soap12: bool, client: bool = False) -> bytes:
    if soap12:
        code = "soap:Sender" if client else "soap:Receiver"
        fault = (f"<soap:Fault><soap:Code><soap:Value>{code}</soap:Value></soap:Code><soap:Reason>"
                 f'<soap:Text xml:lang="ru">{escape(message)}</soap:Text></soap:Reason></soap:Fault>')
    else:
        code = "soap:Client" if client else "soap:Server"
        fault = f"<soap:Fault><faultcode>{code}</faultcode><faultstring>{escape(message)}</faultstring></soap:Fault>"
    return f'<soap:Envelope xmlns:soap="{ns}"><soap:Body>{fault}</soap:Body></soap:Envelope>'.encode()


def _wsdl() -> str:
    elements, messages, port_ops, ops11, ops12 = [], [], [], [], []
    for op in OPERATIONS:
        params = "".join(f'<xs:element name="{name}" type="{xsd}"' + (' nillable="true"' if nillable else "") + "/>"
                         for name, xsd, nillable in op.params)
        elements.append(f'<xs:element name="{op.name}"><xs:complexType><xs:sequence>{params}'
                        "</xs:sequence></xs:complexType></xs:element>")
        elements.append(f'<xs:element name="{op.name}Response"><xs:complexType><xs:sequence>'
                        '<xs:element name="return" type="xs:string"/></xs:sequence></xs:complexType></xs:element>')
        messages.append(f'<message name="{op.name}RequestMessage"><part name="parameters" element="tns:{op.name}"/>'
                        f'</message><message name="{op.name}ResponseMessage"><part name="parameters" '
                        f'element="tns:{op.name}Response"/></message>')
        port_ops.append(f'<operation name="{op.name}"><input message="tns:{op.name}RequestMessage"/>'
                        f'<output message="tns:{op.name}ResponseMessage"/></operation>')
        for bucket, prefix in ((ops11, "soapbind"), (ops12, "soap12bind")):
            bucket.append(f'<operation name="{op.name}"><{prefix}:operation style="document" '
                          f'soapAction="{NAMESPACE}#{SERVICE}:{op.name}"/><input><{prefix}:body use="literal"/>'
                          f'</input><output><{prefix}:body use="literal"/></output></operation>')
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:soap12bind="http://schemas.xmlsoap.org/wsdl/soap12/"'
        ' xmlns:soapbind="http://schemas.xmlsoap.org/wsdl/soap/" '
        f'xmlns:tns="{NAMESPACE}" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsd1="{NAMESPACE}" '
        f'name="{SERVICE}" targetNamespace="{NAMESPACE}">'
        f'<types><xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="{NAMESPACE}" '
        f'attributeFormDefault="unqualified" elementFormDefault="qualified">{"".join(elements)}</xs:schema></types>'
        + "".join(messages)
        + f'<portType name="{SERVICE}PortType">{"".join(port_ops)}</portType>'
        f'<binding name="{SERVICE}SoapBinding" type="tns:{SERVICE}PortType">'
        '<soapbind:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>'
        + "".join(ops11) + "</binding>"
        f'<binding name="{SERVICE}Soap12Binding" type="tns:{SERVICE}PortType">'
        '<soap12bind:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>'
        + "".join(ops12) + "</binding>"
        f'<service name="{SERVICE}"><port name="{SERVICE}Soap" binding="tns:{SERVICE}SoapBinding">'
        '<documentation><wsi:Claim xmlns:wsi="http://ws-i.org/schemas/conformanceClaim/" '
        'conformsTo="http://ws-i.org/profiles/basic/1.1"/></documentation>'
        f'<soapbind:address location="{INTERNAL_ADDRESS}"/></port>'
        f'<port name="{SERVICE}Soap12" binding="tns:{SERVICE}Soap12Binding">'
        f'<soap12bind:address location="{INTERNAL_ADDRESS}"/></port></service></definitions>'
    )
