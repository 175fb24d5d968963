"""Starter knowledge entries the team wrote, shared by every guild, each with its source.
Seeding is idempotent: entries are keyed by `seed_key`."""

from __future__ import annotations

from typing import Any

from plugins.llm.models import CannabisKnowledgeBase

CRC = "https://www.nj.gov/cannabis/"
# Any, not str: the values go to Model.create as keyword fields.
STARTER_ENTRIES: tuple[dict[str, Any], ...] = (
    {
        "seed_key": "nj-possession-limits",
        "category": "legal",
        "title": "New Jersey possession and purchase limits",
        "tags": "possession, limits, ounces, purchase, nj law, 21+",
        "content": (
            "Adults 21 and older may legally possess up to 6 ounces (about 170 grams) of "
            "usable cannabis in New Jersey. Licensed dispensaries sell adults up to 1 ounce of "
            "flower (or its equivalent in edibles, concentrates and vapes) per transaction. "
            "Buy only from licensed dispensaries; a valid government photo ID proving you are "
            "21+ is required."
        ),
        "source_url": "https://www.nj.gov/cannabis/adult-personal/",
    },
    {
        "seed_key": "nj-public-consumption",
        "category": "legal",
        "title": "Public consumption in New Jersey",
        "tags": "public, smoking, consumption lounge, parks, landlord, nj law",
        "content": (
            "Consuming cannabis in public places (streets, parks, beaches, schools, public "
            "transport) is not allowed, and smoking or vaping it is banned wherever tobacco "
            "smoking is banned. Private property owners and landlords may prohibit it. "
            "Licensed consumption areas approved by the municipality and the CRC are the only "
            "public places where use can be allowed."
        ),
        "source_url": "https://www.nj.gov/cannabis/resources/cannabis-laws/",
    },
    {
        "seed_key": "nj-driving",
        "category": "safety",
        "title": "Driving and cannabis",
        "tags": "driving, dui, impaired, car, vehicle, police",
        "content": (
            "Driving under the influence of cannabis is illegal in New Jersey and is treated "
            "like drunk driving under N.J.S.A. 39:4-50: fines, licence suspension and possible "
            "jail. Cannabis slows reaction time. Never drive after using it; plan a sober "
            "driver, a ride share or public transport. Keeping cannabis in the passenger area "
            "of a car while driving can also be an offence: keep it sealed in the trunk."
        ),
        "source_url": "https://www.nj.gov/oag/hts/",
    },
    {
        "seed_key": "nj-home-cultivation",
        "category": "cultivation",
        "title": "Home cultivation is not permitted for recreational users",
        "tags": "home grow, cultivation, growing, plants, seeds, nj law",
        "content": (
            "New Jersey does not allow adults to grow cannabis at home for recreational use. "
            "Only businesses licensed by the Cannabis Regulatory Commission may cultivate. "
            "Growing plants at home remains a criminal offence. Growing knowledge shared here "
            "is educational, for licensed cultivators and for places where home growing is "
            "legal."
        ),
        "source_url": CRC,
    },
    {
        "seed_key": "safety-basics",
        "category": "safety",
        "title": "Cannabis safety basics",
        "tags": "safety, edibles, dosing, start low go slow, storage, children, pets, poison",
        "content": (
            "Start low and go slow: edibles can take 30 minutes to 2 hours to act and last "
            "much longer than smoking, so wait before taking more (a first dose is often 2.5 to "
            "5 mg THC). Do not mix with alcohol. Store cannabis locked, in its child-resistant "
            "package, out of reach of children and pets. For accidental ingestion call the NJ "
            "Poison Control Center at 1-800-222-1222; in an emergency call 911."
        ),
        "source_url": "https://www.njpies.org/",
    },
    {
        "seed_key": "nj-age-and-licensed-dispensaries",
        "category": "legal",
        "title": "21+ only, from licensed dispensaries",
        "tags": "age, 21, id, dispensary, licensed, minors",
        "content": (
            "Adult-use cannabis in New Jersey is only for people 21 and older. Giving or selling "
            "cannabis to anyone under 21 is a crime, and selling cannabis without a CRC licence "
            "is illegal for anyone. The CRC publishes the list of licensed dispensaries."
        ),
        "source_url": "https://www.nj.gov/cannabis/dispensaries/find/",
    },
)


async def seed_starter_entries() -> int:
    """Create the starter entries that do not exist yet; returns how many were created."""
    existing = set(
        await CannabisKnowledgeBase.filter(seed_key__isnull=False).values_list("seed_key",
                                                                               flat=True)
    )
    created = 0
    for entry in STARTER_ENTRIES:
        if entry["seed_key"] in existing:
            continue
        await CannabisKnowledgeBase.create(guild_id=None, status="approved", active=True,
                                           **entry)
        created += 1
    return created
