"""The language of each column-name vocabulary word, for explaining a name signal ("telefon: de, pl, sv").

Words are written folded (lower case, no accents), as :func:`compliance.column_names.name_tokens`
produces them; a word shared by several languages lists all of them. A test keeps this table in step
with the vocabulary of :mod:`compliance.column_names`.
"""

from __future__ import annotations

LANGUAGE_WORDS: dict[str, str] = {
    "en": "addr address bank_account bban bdate birth birthday birthdt born brth card card_number "
    "cardnumber cc ccnum cell city claimant client client_ip contact country credit_card creditcard "
    "customer dob domicile e_mail email employee familyname fax firstname fname fullname givenname gsm "
    "holder hometown iban insured ip ip_addr ipaddr ipaddress ipv4 ipv6 lastname lname location mail "
    "mobile msisdn name nm owner patient person phone place remote_addr residence social_security "
    "socialsecurity ssn ssnr street surname tel telephone",
    "de": "adresse anschrift familienname fax geb gebdat geburt geburtsdatum handy handynummer iban "
    "kartenummer konto kontonr kontonummer kreditkart kreditkarte kunde mitarbeiter mobil nachname name "
    "ort patient person stadt strasse telefon vorname wohnort zuname",
    "fr": "adresse carte client courriel domicile gsm iban lieu mel naissance nom patient portable prenom "
    "rib rue ville",
    "es": "apellido apellidos calle celular ciudad cliente correo direccion domicilio fnac lugar movil nac "
    "nacimiento nombre paciente tarjeta tarjeta_credito telefono",
    "it": "carta carta_di_credito cartadicredito cellulare citta cliente cognome comune dipendente "
    "indirizzo localita luogo nascita nome paziente telefono",
    "nl": "achternaam adres emailadres geboorte geboortedatum gsm kaart klant medewerker naam plaats "
    "rekeningnummer roepnaam straat telefoon tussenvoegsel voornaam woonplaats",
    "pl": "adres adresa imie karta karta_kredyt klient komorka miasto miejsce miejscowosc nazwisko nr_tel "
    "numer_konta pacjent pracownik telefon ulica urodzenia urodzin",
    "pt": "apelido cartao celular cidade cliente endereco funcionario localidade morada nasc nascimento "
    "nome paciente rua sobrenome telefone telemovel",
    "sv": "adress anstalld e_post efternamn epost fodelse fodelsedag fodelsedatum fornamn gatuadress "
    "klient konto kontonummer kort mobil namn ort patient person postort stad telefon",
    "fi": "asiakas eposti etunimi katuosoite kaupunki kortti matkapuhelin nimi osoite paikka paikkakunta "
    "postitoimipaikka potilas puh puhelin sahkoposti sukunimi syntyma syntymaaika syntymapaiva "
    "tilinumero tyontekija",
    "no": "adresse ansatt bosted bursdag e_post epost etternavn fdato fodselsdag fodselsdato fodt "
    "foedselsdato fornavn gateadresse konto kontonummer kort kunde mobil navn pasient person poststed "
    "sted telefon tlf",
    "da": "adresse efternavn epost fodselsdag fodselsdato fornavn konto kontonummer kort kunde mobil navn "
    "person telefon tlf",
}
_BY_WORD: dict[str, tuple[str, ...]] = {}
for _language, _words in LANGUAGE_WORDS.items():
    for _word in _words.split():
        _BY_WORD[_word] = (*_BY_WORD.get(_word, ()), _language)


def word_languages(folded: str) -> tuple[str, ...]:
    """The languages of a folded vocabulary word (empty for a word of a policy's custom entity)."""
    return _BY_WORD.get(folded, ())
