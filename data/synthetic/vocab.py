"""Word lists of the synthetic helpline data: people, places, landmarks, phone numbers and ages.

Everything here is written for this project (common East African given names and surnames, public
geography); nothing is taken from any helpline transcript. The samplers take a `random.Random`, so the
generator stays deterministic for a seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# fmt: off
# Given names by gender, grouped loosely by community (Kikuyu, Luo, Kalenjin, Luhya, Kamba, Meru/Embu,
# Swahili/coastal, Maasai/Samburu, Tanzanian and widely used church names).
GIVEN_NAMES: dict[str, list[str]] = {
    "female": [
        # Kikuyu, Meru, Embu
        "Wanjiru", "Njeri", "Wambui", "Nyambura", "Wairimu", "Muthoni", "Gathoni", "Wangari", "Wanjiku",
        "Nyokabi", "Waithira", "Wangui", "Kendi", "Gatwiri", "Kagendo", "Makena", "Nkatha", "Karimi",
        # Luo
        "Achieng", "Akinyi", "Awino", "Adhiambo", "Atieno", "Anyango", "Auma", "Apiyo", "Akoth", "Aluoch",
        # Kalenjin
        "Chebet", "Jepkosgei", "Jeptoo", "Chepkoech", "Jelagat", "Chelimo", "Jerop", "Cherono", "Chepngeno",
        # Luhya, Kamba, Kisii
        "Nafula", "Nekesa", "Nasimiyu", "Naliaka", "Mwikali", "Ndinda", "Mwende", "Kalekye", "Nduku",
        "Kemunto", "Moraa", "Kwamboka", "Nyaboke",
        # Swahili, coastal, Tanzanian
        "Mwanaisha", "Rehema", "Zawadi", "Imani", "Mwajuma", "Zuhura", "Halima", "Subira", "Mwanahawa",
        "Hadija", "Amina", "Fatuma", "Neema", "Upendo", "Furaha", "Tumaini", "Pendo", "Ashura", "Mariamu",
        "Sikujua", "Kulwa", "Doto",
        # Maasai, Samburu
        "Naserian", "Nashipae", "Resian", "Nalangu", "Nasieku", "Namunyak",
        # Church names
        "Faith", "Mercy", "Esther", "Purity", "Joy", "Ruth", "Beatrice", "Caroline", "Diana", "Lilian",
        "Winnie", "Sharon", "Brenda", "Agnes", "Veronica", "Gladys", "Irene", "Eunice",
    ],
    "male": [
        "Kamau", "Mwangi", "Kariuki", "Njoroge", "Kimani", "Githinji", "Karanja", "Waweru", "Gitau", "Ndungu",
        "Kirimi", "Mwenda", "Murithi", "Nyaga", "Mutugi",
        "Otieno", "Odhiambo", "Ochieng", "Onyango", "Omondi", "Owino", "Okoth", "Ouma", "Oduor", "Okello",
        "Kiprotich", "Kipchoge", "Cheruiyot", "Kibet", "Kiptoo", "Rotich", "Koech", "Kiplagat", "Kipkemboi",
        "Wafula", "Wekesa", "Barasa", "Simiyu", "Wanjala", "Makokha", "Khisa", "Mutua", "Musyoka", "Kioko",
        "Mutiso", "Nzioka", "Ombati", "Nyakundi", "Onsongo",
        "Hamisi", "Baraka", "Juma", "Amani", "Faraji", "Rashidi", "Shabani", "Athumani", "Bakari", "Salimu",
        "Issa", "Hassani", "Omari", "Musa", "Yusufu", "Masanja", "Shija", "Ndaki", "Mashaka", "Kassimu",
        "Lekishon", "Parsimei", "Sankale", "Lemayian", "Koileken", "Lesian", "Saitoti",
        "Brian", "Kevin", "Dennis", "Collins", "Victor", "Emmanuel", "Elijah", "Samuel", "Joseph", "Daniel",
        "Stephen", "Felix", "Ian", "Allan", "Moses", "Edwin",
    ],
}

SURNAMES: list[str] = [
    "Kamau", "Mwangi", "Kariuki", "Njoroge", "Kimani", "Wanyama", "Karanja", "Gitau", "Ndirangu", "Maina",
    "Otieno", "Odhiambo", "Ochieng", "Onyango", "Omondi", "Owino", "Okoth", "Ouma", "Oloo", "Opiyo",
    "Kiprotich", "Cheruiyot", "Kibet", "Rotich", "Koech", "Langat", "Kirui", "Tanui", "Sang", "Bett",
    "Wafula", "Wekesa", "Barasa", "Simiyu", "Wanjala", "Makokha", "Khisa", "Mutua", "Musyoka", "Kioko",
    "Mutiso", "Ombati", "Nyakundi", "Mogaka", "Kerubo", "Mwakilema", "Mwakyusa", "Massawe", "Lyimo",
    "Kimaro", "Mrema", "Shirima", "Urassa", "Mushi", "Temba", "Mollel", "Laizer", "Ole Sankale",
    "Ole Kaelo", "Lekuton", "Hamisi", "Bakari", "Salim", "Mohamed", "Abdallah", "Mwinyi", "Chande",
    "Mfinanga", "Nyerere", "Magesa", "Masanja", "Kulindwa", "Mapunda", "Komba", "Ngowi", "Haule",
]

# County (Kenya) or region (Tanzania) -> towns, estates and villages.
PLACES: dict[str, dict[str, list[str]]] = {
    "Kenya": {
        "Nairobi": ["Kibera", "Mathare", "Kayole", "Githurai", "Kawangware", "Embakasi", "Dandora", "Mukuru",
                    "Kangemi", "Umoja", "Huruma", "Korogocho"],
        "Mombasa": ["Likoni", "Kisauni", "Changamwe", "Bamburi", "Mikindani", "Magongo"],
        "Kisumu": ["Nyalenda", "Manyatta", "Kondele", "Obunga", "Ahero", "Maseno", "Kombewa"],
        "Nakuru": ["Naivasha", "Molo", "Njoro", "Gilgil", "Bahati", "Rongai", "Subukia"],
        "Kiambu": ["Thika", "Ruiru", "Limuru", "Githunguri", "Gatundu", "Juja", "Kiambaa"],
        "Machakos": ["Athi River", "Kangundo", "Matuu", "Masii", "Mlolongo", "Tala"],
        "Kakamega": ["Mumias", "Malava", "Butere", "Lurambi", "Shinyalu"],
        "Bungoma": ["Webuye", "Kimilili", "Chwele", "Sirisia", "Bumula"],
        "Kisii": ["Ogembo", "Suneka", "Keroka", "Marani", "Nyamache"],
        "Nyeri": ["Othaya", "Karatina", "Mukurweini", "Naro Moru", "Chaka"],
        "Meru": ["Maua", "Nkubu", "Timau", "Laare", "Mitunguu"],
        "Embu": ["Runyenjes", "Siakago", "Kiritiri", "Ishiara"],
        "Kitui": ["Mwingi", "Mutomo", "Kabati", "Ikutha", "Migwani"],
        "Makueni": ["Wote", "Emali", "Mtito Andei", "Kibwezi", "Sultan Hamud"],
        "Kajiado": ["Kitengela", "Ongata Rongai", "Ngong", "Kiserian", "Namanga", "Loitokitok"],
        "Narok": ["Kilgoris", "Ololulunga", "Nairegie Enkare", "Suswa"],
        "Kericho": ["Litein", "Londiani", "Kipkelion", "Sosiot"],
        "Bomet": ["Sotik", "Mulot", "Longisa", "Ndanai"],
        "Uasin Gishu": ["Eldoret", "Burnt Forest", "Turbo", "Moiben", "Ziwa"],
        "Trans Nzoia": ["Kitale", "Endebess", "Kiminini", "Saboti"],
        "Turkana": ["Lodwar", "Kakuma", "Lokichogio", "Lokitaung"],
        "Marsabit": ["Moyale", "Laisamis", "North Horr"],
        "Garissa": ["Dadaab", "Masalani", "Bura"],
        "Wajir": ["Habaswein", "Griftu", "Tarbaj"],
        "Mandera": ["Elwak", "Rhamu", "Takaba"],
        "Isiolo": ["Merti", "Garbatulla", "Kinna"],
        "Samburu": ["Maralal", "Baragoi", "Wamba", "Archers Post"],
        "Laikipia": ["Nanyuki", "Nyahururu", "Rumuruti", "Doldol"],
        "Nyandarua": ["Ol Kalou", "Njabini", "Ndaragwa"],
        "Murang'a": ["Kangema", "Kenol", "Maragua", "Kiriaini"],
        "Kirinyaga": ["Kerugoya", "Kutus", "Sagana", "Wang'uru"],
        "Tharaka-Nithi": ["Chuka", "Chogoria", "Marimanti"],
        "Homa Bay": ["Mbita", "Oyugis", "Kendu Bay", "Ndhiwa", "Rangwe"],
        "Migori": ["Rongo", "Awendo", "Isebania", "Uriri"],
        "Siaya": ["Bondo", "Ugunja", "Yala", "Usenge"],
        "Busia": ["Malaba", "Nambale", "Port Victoria", "Funyula"],
        "Vihiga": ["Mbale", "Luanda", "Chavakali", "Serem"],
        "Nandi": ["Kapsabet", "Nandi Hills", "Mosoriot", "Kabiyet"],
        "Elgeyo-Marakwet": ["Iten", "Kapsowar", "Chepkorio"],
        "West Pokot": ["Kapenguria", "Chepareria", "Sigor"],
        "Baringo": ["Kabarnet", "Eldama Ravine", "Marigat", "Mogotio"],
        "Kilifi": ["Malindi", "Mtwapa", "Mariakani", "Watamu", "Kaloleni"],
        "Kwale": ["Ukunda", "Msambweni", "Kinango", "Lunga Lunga"],
        "Lamu": ["Mpeketoni", "Faza", "Hindi"],
        "Taita-Taveta": ["Voi", "Wundanyi", "Mwatate", "Taveta"],
        "Tana River": ["Hola", "Garsen", "Madogo"],
        "Nyamira": ["Keroka", "Nyansiongo", "Ekerenyo"],
    },
    "Tanzania": {
        "Dar es Salaam": ["Temeke", "Kinondoni", "Ilala", "Ubungo", "Kigamboni", "Mbagala", "Tandale", "Manzese"],
        "Arusha": ["Arumeru", "Ngaramtoni", "Usa River", "Karatu", "Monduli", "Longido"],
        "Dodoma": ["Chamwino", "Kondoa", "Mpwapwa", "Kongwa", "Bahi"],
        "Mbeya": ["Tukuyu", "Chunya", "Mbarali", "Kyela", "Rungwe"],
        "Morogoro": ["Kilosa", "Ifakara", "Mvomero", "Gairo", "Malinyi"],
        "Tanga": ["Muheza", "Korogwe", "Pangani", "Lushoto", "Handeni"],
        "Kilimanjaro": ["Moshi", "Hai", "Rombo", "Mwanga"],
        "Mwanza": ["Ilemela", "Nyamagana", "Sengerema", "Magu", "Ukerewe", "Kwimba"],
        "Kigoma": ["Kasulu", "Kibondo", "Uvinza", "Buhigwe"],
        "Shinyanga": ["Kahama", "Kishapu", "Ushetu"],
        "Tabora": ["Nzega", "Urambo", "Igunga", "Sikonge"],
        "Singida": ["Manyoni", "Iramba", "Ikungi"],
        "Mtwara": ["Newala", "Masasi", "Tandahimba", "Nanyumbu"],
        "Lindi": ["Kilwa", "Nachingwea", "Ruangwa", "Liwale"],
        "Ruvuma": ["Songea", "Mbinga", "Tunduru", "Namtumbo"],
        "Iringa": ["Mufindi", "Kilolo", "Mafinga"],
        "Njombe": ["Makambako", "Ludewa", "Wanging'ombe"],
        "Pwani": ["Kibaha", "Bagamoyo", "Mkuranga", "Kisarawe", "Rufiji"],
        "Rukwa": ["Sumbawanga", "Nkasi", "Kalambo"],
        "Katavi": ["Mpanda", "Mlele"],
        "Kagera": ["Bukoba", "Karagwe", "Ngara", "Muleba", "Biharamulo"],
        "Mara": ["Musoma", "Tarime", "Bunda", "Serengeti", "Rorya"],
        "Geita": ["Chato", "Bukombe", "Nyang'hwale"],
        "Simiyu": ["Bariadi", "Maswa", "Meatu", "Itilima"],
        "Manyara": ["Babati", "Mbulu", "Hanang", "Kiteto"],
        "Songwe": ["Tunduma", "Mbozi", "Ileje"],
        "Zanzibar": ["Mwera", "Chwaka", "Makunduchi", "Nungwi"],
    },
}

# Village and neighbourhood names that can sit inside any county ("X village near Town").
VILLAGES: list[str] = [
    "Majengo", "Shauri Moyo", "Mji Mpya", "Kambi Mawe", "Kwa Njenga", "Kiamaina", "Mabatini", "Kisumu Ndogo",
    "Soko Mjinga", "Kamukunji", "Kivumbini", "Mkunazini", "Ngomeni", "Kalimoni", "Mwembe Tayari", "Chumvi",
    "Mnarani", "Kilimahewa", "Mwanzo", "Sokoni", "Bondeni", "Kichangani", "Mlimani", "Mtakuja", "Matopeni",
    "Migombani", "Kipingo", "Tuinuane", "Mapambano", "Kiziwani", "Barakani",
]

# fmt: on

_COUNTIES: dict[str, list[str]] = {country: sorted(counties) for country, counties in PLACES.items()}

COUNTRY_CODE: dict[str, str] = {"Kenya": "254", "Tanzania": "255"}

# Landmark patterns: the landmark is the whole phrase ("Kondele Market"), one LANDMARK span.
LANDMARK_PATTERNS: dict[str, list[str]] = {
    "school": [
        "{town} Primary School",
        "{town} Secondary School",
        "{village} Primary School",
        "St. {saint}'s Girls School",
        "{surname} Academy",
        "{town} Mixed Day School",
        "Shule ya Msingi {village}",
    ],
    "market": ["{town} Market", "{village} Market", "{town} Open Air Market", "Soko la {village}"],
    "church": [
        "St. {saint}'s Catholic Church",
        "{town} AIC Church",
        "{village} PCEA Church",
        "{town} Full Gospel Church",
        "{town} Jamia Mosque",
        "Masjid {village}",
    ],
    "stage": [
        "{town} Stage",
        "{village} Matatu Stage",
        "{town} Bus Park",
        "{village} Boda Boda Stage",
        "Stendi ya {town}",
    ],
    "health": [
        "{town} Sub-County Hospital",
        "{town} Health Centre",
        "{village} Dispensary",
        "{town} District Hospital",
        "{town} Medical Clinic",
    ],
    "police": ["{town} Police Station", "{village} Police Post", "{town} Chief's Camp", "{town} Children's Office"],
    "other": [
        "{village} Borehole",
        "{town} Social Hall",
        "{town} Stadium",
        "{surname}'s Shop",
        "{village} Water Point",
        "{town} Posta",
    ],
}
SAINTS: list[str] = ["Mary", "Joseph", "Peter", "Paul", "Anne", "Teresa", "Francis", "Monica", "Augustine", "Luke"]

# Victims and callers.
GENDER_WORDS: dict[str, list[str]] = {"female": ["girl", "female"], "male": ["boy", "male"]}
CALLER_RELATIONS: list[str] = [
    "neighbour",
    "aunt",
    "uncle",
    "teacher",
    "grandmother",
    "mother",
    "father",
    "older sister",
    "older brother",
    "pastor",
    "village elder",
    "friend of the family",
    "community health volunteer",
    "school head teacher",
]
_GENDERED_RELATIONS = {
    "female": {"aunt", "grandmother", "mother", "older sister"},
    "male": {"uncle", "father", "older brother"},
}


def relations_for(gender: str, exclude: str = "") -> list[str]:
    """Caller relations a person of `gender` can hold, without any that shares a word with `exclude`."""
    other = _GENDERED_RELATIONS["male" if gender == "female" else "female"]
    banned = set(exclude.lower().split())
    return [r for r in CALLER_RELATIONS if r not in other and not (set(r.split()) & banned)]


NUMBER_WORDS: list[str] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
]
WEEKDAYS: list[str] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]


@dataclass(frozen=True)
class Place:
    """A sampled place: country, county/region, town and an optional village."""

    country: str
    county: str
    town: str
    village: str

    def phrase(self, rng: random.Random) -> str:
        """A location phrase as a caller would say it (one LOCATION span)."""
        form = rng.randrange(5)
        if form == 0:
            return self.town
        if form == 1:
            return f"{self.town}, {self.county}"
        if form == 2:
            return self.county
        if form == 3:
            return f"{self.village}, {self.town}"
        return f"{self.town} in {self.county}"


def sample_place(rng: random.Random, country: str | None = None) -> Place:
    country = country or ("Kenya" if rng.random() < 0.6 else "Tanzania")
    county = rng.choice(_COUNTIES[country])
    return Place(country, county, rng.choice(PLACES[country][county]), rng.choice(VILLAGES))


def _choice_avoiding(rng: random.Random, names: list[str], avoid: set[str]) -> str:
    # Rejection sampling: `avoid` holds a handful of names, so this ends after a try or two.
    while True:
        name = rng.choice(names)
        if name not in avoid:
            return name


def sample_given_name(rng: random.Random, gender: str, avoid: set[str] = frozenset()) -> str:
    return _choice_avoiding(rng, GIVEN_NAMES[gender], avoid)


def sample_surname(rng: random.Random, avoid: set[str] = frozenset()) -> str:
    return _choice_avoiding(rng, SURNAMES, avoid)


def sample_landmark(rng: random.Random, place: Place, kind: str | None = None) -> str:
    kind = kind or rng.choice(sorted(LANDMARK_PATTERNS))
    pattern = rng.choice(LANDMARK_PATTERNS[kind])
    return pattern.format(
        town=place.town, village=place.village, saint=rng.choice(SAINTS), surname=rng.choice(SURNAMES)
    )


def sample_phone(rng: random.Random, country: str) -> str:
    """A mobile number in one of the local written formats (07xx..., +254 7xx..., +255 6xx...)."""
    digits = f"{rng.randrange(10**7):07d}"
    if country == "Kenya":
        prefix = rng.choice(["70", "71", "72", "74", "79", "11", "10", "75"])
    else:
        prefix = rng.choice(["65", "67", "68", "71", "74", "75", "76", "78"])
    national = prefix + digits  # 9 digits after the trunk 0 / country code
    form = rng.randrange(6)
    if form == 0:
        return f"0{national}"
    if form == 1:
        return f"0{national[:3]} {national[3:6]} {national[6:]}"
    if form == 2:
        return f"+{COUNTRY_CODE[country]} {national[:3]} {national[3:6]} {national[6:]}"
    if form == 3:
        return f"+{COUNTRY_CODE[country]}{national}"
    if form == 4:
        return f"0{national[:3]}-{national[3:6]}-{national[6:]}"
    return f"{COUNTRY_CODE[country]} {national}"


def age_text(rng: random.Random, age: int) -> str:
    """An age as digits (most of the time) or as a word."""
    if age < len(NUMBER_WORDS) and rng.random() < 0.2:
        return NUMBER_WORDS[age]
    return str(age)


def vocab_sizes() -> dict[str, int]:
    """Counts of the word lists, for `describe()`."""
    return {
        "given_names_female": len(GIVEN_NAMES["female"]),
        "given_names_male": len(GIVEN_NAMES["male"]),
        "surnames": len(SURNAMES),
        "counties_kenya": len(PLACES["Kenya"]),
        "regions_tanzania": len(PLACES["Tanzania"]),
        "towns": sum(len(towns) for country in PLACES.values() for towns in country.values()),
        "villages": len(VILLAGES),
        "landmark_patterns": sum(len(patterns) for patterns in LANDMARK_PATTERNS.values()),
        "phone_formats": 6 * len(COUNTRY_CODE),
    }
